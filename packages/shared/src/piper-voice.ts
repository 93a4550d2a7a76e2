/**
 * A Piper voice as the API and the worker both check it (docs/architecture.md#adapters): its
 * `.onnx.json` config, its ONNX signature, and a speech item's params. The worker's side of
 * the adapter is packages/worker/src/adapters/piper/.
 */
import { z } from "zod";

/** Piper's symbols: beginning and end of a sentence, and the pad written after each phoneme. */
export const BOS = "^";
export const EOS = "$";
export const PAD = "_";

const symbol = z.string().min(1);
const phonemeId = z.number().int().min(0);

/** The first few of a list, and how many more: a message stays readable. */
const listed = (items: string[], separator = ", ", first = 5) =>
  items.slice(0, first).join(separator) + (items.length > first ? ` and ${items.length - first} more` : "");

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

/** A voice config's bytes parsed, or why they are not a Piper config (JSON, then schema). */
export function readVoiceConfig(
  bytes: Uint8Array | string,
  label = "voice config",
): { ok: true; config: VoiceConfig } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    return { ok: false, message: `${label} is not JSON: ${(err as Error).message}` };
  }
  const parsed = voiceConfigSchema.safeParse(json);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  return { ok: false, message: `${label} is not a Piper voice config: ${listed(issues, "; ")}` };
}

export const isMultiSpeaker = (c: Pick<VoiceConfig, "num_speakers">) => c.num_speakers > 1;

/** A model input or output as its signature declares it (ONNX Runtime's metadata, or the ONNX file's graph). */
export interface SignatureValue {
  name: string;
  /** "float32", "int64", ... ; undefined for a value that is not a tensor. */
  type?: string;
  shape?: readonly (number | string)[];
}

/** Which input/output plays which role in a Piper voice. */
export interface PiperBinding {
  /** int64 [1, N]: phoneme ids. */
  input: string;
  /** int64 [1]: N. */
  inputLengths: string;
  /** float32 [3]: noise_scale, length_scale, noise_w. */
  scales: string;
  /** int64 [1]: speaker id, multi-speaker voices only. */
  sid?: string;
  /** float32 [1, 1, T] or [1, T]: audio in [-1, 1] at the config's sample rate. */
  output: string;
}

const SIGNATURE =
  "inputs input int64 [1,N], input_lengths int64 [1], scales float32 [3] and, for several speakers, sid int64 [1]; " +
  "output float32 [1,1,T] or [1,T]";

/**
 * Checks a model's signature against Piper's (as piper_train's ONNX export writes it) and
 * against its voice config, and names the roles. The two int64 [1] inputs differ only by
 * role, so `sid` is known by its name, as Piper's programs feed it; the others by type and rank.
 */
export function bindPiperSignature(
  model: { inputs: SignatureValue[]; outputs: SignatureValue[] },
  config: Pick<VoiceConfig, "num_speakers">,
  modelLabel: string,
): { ok: true; binding: PiperBinding } | { ok: false; message: string } {
  const { inputs, outputs } = model;
  const is = (v: SignatureValue, type: string, rank: number, fixed: (number | undefined)[] = []) =>
    v.type === type &&
    v.shape?.length === rank &&
    fixed.every((d, i) => d === undefined || typeof v.shape![i] !== "number" || v.shape![i] === d);
  const ids = inputs.filter((v) => is(v, "int64", 2, [1]));
  const int64Scalars = inputs.filter((v) => is(v, "int64", 1, [1]));
  const scales = inputs.filter((v) => is(v, "float32", 1, [3]));
  const sid = int64Scalars.find((v) => v.name === "sid");
  const lengths = int64Scalars.filter((v) => v !== sid);
  const output = outputs.filter((v) => is(v, "float32", 3, [1, 1]) || is(v, "float32", 2, [1]));
  if (ids.length !== 1 || lengths.length !== 1 || scales.length !== 1 || output.length !== 1 || inputs.length > 4) {
    const list = (l: SignatureValue[]) =>
      l.map((v) => `${v.name} ${v.type ?? "non-tensor"} [${v.shape?.join(",") ?? "?"}]`).join(", ") || "none";
    return {
      ok: false,
      message:
        `${modelLabel} does not fit the piper adapter, which needs ${SIGNATURE}; ` +
        `the model has inputs ${list(inputs)} and outputs ${list(outputs)}`,
    };
  }
  if (isMultiSpeaker(config) && !sid)
    return {
      ok: false,
      message:
        `${modelLabel} does not fit its config: the config has ${config.num_speakers} speakers, ` +
        `but the model has no sid input (it is a single-speaker voice)`,
    };
  if (!isMultiSpeaker(config) && sid)
    return {
      ok: false,
      message: `${modelLabel} does not fit its config: the model takes a speaker id (sid), but the config has num_speakers 1`,
    };
  return {
    ok: true,
    binding: {
      input: ids[0]!.name,
      inputLengths: lengths[0]!.name,
      scales: scales[0]!.name,
      ...(sid ? { sid: sid.name } : {}),
      output: output[0]!.name,
    },
  };
}

/**
 * A speech item's params. The scales default to the voice config's `inference` values (so
 * they are left out here, not copied: the config is the voice's, and part of the job key);
 * the silence between sentences defaults to 0.2 s, as Piper's own program.
 */
export const piperParamsSchema = z
  .object({
    /** A name from the config's speaker_id_map, or a speaker id; multi-speaker voices only (default 0). */
    speaker: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
    /** Phoneme duration: above 1 is slower speech, below 1 faster. */
    lengthScale: z.number().min(0.1).max(10).optional(),
    /** Generator noise (voice variation). */
    noiseScale: z.number().min(0).max(5).optional(),
    /** Phoneme width noise (rhythm variation). */
    noiseW: z.number().min(0).max(5).optional(),
    /** Seconds of silence between sentences. */
    sentenceSilence: z.number().min(0).max(10).default(0.2),
  })
  .strict();

export type PiperParams = z.infer<typeof piperParamsSchema>;
