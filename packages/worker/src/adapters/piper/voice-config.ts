import { z } from "zod";
import { BadInputError } from "../../errors.ts";

/** Piper's symbols: beginning and end of a sentence, and the pad written after each phoneme. */
export const BOS = "^";
export const EOS = "$";
export const PAD = "_";

const symbol = z.string().min(1);
const phonemeId = z.number().int().min(0);

/**
 * A Piper voice's `.onnx.json`, laid out as Piper writes it (piper_train's preprocess and
 * export, read by Piper's C++ and Python programs). Fields Piper itself reads are checked;
 * the rest (language, dataset, piper_version...) are kept as they are.
 */
export const voiceConfigSchema = z
  .object({
    audio: z.looseObject({ sample_rate: z.number().int().min(4000).max(192_000) }),
    /** espeak-ng's voice (a language such as "en-us"), for phoneme_type "espeak". */
    espeak: z.looseObject({ voice: z.string().min(1) }).optional(),
    /** "espeak": espeak-ng's IPA phonemes; "text": the text's own codepoints are the phonemes. */
    phoneme_type: z.enum(["espeak", "text"]).default("espeak"),
    /** Phoneme -> phonemes it is replaced by before the ids (rarely used). */
    phoneme_map: z.record(symbol, z.array(symbol)).default({}),
    /** Phoneme -> its ids in the model's input. Must hold BOS, EOS and PAD. */
    phoneme_id_map: z.record(symbol, z.array(phonemeId).min(1)),
    num_symbols: z.number().int().min(1).optional(),
    inference: z
      .looseObject({
        noise_scale: z.number().min(0).default(0.667),
        length_scale: z.number().positive().default(1),
        noise_w: z.number().min(0).default(0.8),
      })
      .default({ noise_scale: 0.667, length_scale: 1, noise_w: 0.8 }),
    num_speakers: z.number().int().min(1).default(1),
    /** Speaker name -> id (multi-speaker voices). */
    speaker_id_map: z.record(z.string(), z.number().int().min(0)).default({}),
  })
  .loose()
  .superRefine((c, ctx) => {
    for (const s of [BOS, EOS, PAD])
      if (!c.phoneme_id_map[s])
        ctx.addIssue({ code: "custom", path: ["phoneme_id_map"], message: `has no id for "${s}"` });
    if (c.phoneme_type === "espeak" && !c.espeak)
      ctx.addIssue({ code: "custom", path: ["espeak", "voice"], message: "is required for phoneme_type espeak" });
    const beyond = Object.entries(c.phoneme_id_map).filter(([, ids]) =>
      ids.some((id) => id >= (c.num_symbols ?? Infinity)),
    );
    if (beyond.length)
      ctx.addIssue({
        code: "custom",
        path: ["phoneme_id_map"],
        message: `has ids beyond num_symbols ${c.num_symbols} (for ${listed(beyond.map(([p]) => JSON.stringify(p)))})`,
      });
    for (const [name, id] of Object.entries(c.speaker_id_map))
      if (id >= c.num_speakers)
        ctx.addIssue({
          code: "custom",
          path: ["speaker_id_map", name],
          message: `is ${id}, beyond num_speakers ${c.num_speakers}`,
        });
  });

export type VoiceConfig = z.infer<typeof voiceConfigSchema>;

/** Parses a voice config's bytes; anything that is not a Piper config is a BadInputError saying where. */
export function parseVoiceConfig(bytes: Uint8Array | string, label = "voice config"): VoiceConfig {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BadInputError(`${label} is not JSON: ${(err as Error).message}`);
  }
  const parsed = voiceConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new BadInputError(`${label} is not a Piper voice config: ${listed(issues, "; ")}`);
  }
  return parsed.data;
}

/** The first few of a list, and how many more: a message stays readable. */
const listed = (items: string[], separator = ", ", first = 5) =>
  items.slice(0, first).join(separator) + (items.length > first ? ` and ${items.length - first} more` : "");

export const isMultiSpeaker = (c: VoiceConfig) => c.num_speakers > 1;
