import { z } from "zod";
import { BadInputError } from "../../errors.ts";
import { isMultiSpeaker, type VoiceConfig } from "./voice-config.ts";

/**
 * A speech item's params. The scales default to the voice config's `inference` values (so
 * they are left out here, not copied: the config is the voice's); the silence between
 * sentences defaults to 0.2 s, as Piper's own program.
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

/** What one item's synthesis runs with, the params resolved against the voice. */
export interface SynthesisSettings {
  /** The model's `scales` input: [noise_scale, length_scale, noise_w], Piper's order. */
  scales: [number, number, number];
  /** The model's `sid`, for multi-speaker voices. */
  speakerId?: number;
  sentenceSilence: number;
  sampleRate: number;
}

export function resolveSettings(params: PiperParams, config: VoiceConfig): SynthesisSettings {
  const inference = config.inference;
  return {
    scales: [
      params.noiseScale ?? inference.noise_scale,
      params.lengthScale ?? inference.length_scale,
      params.noiseW ?? inference.noise_w,
    ],
    speakerId: speakerIdOf(params.speaker, config),
    sentenceSilence: params.sentenceSilence,
    sampleRate: config.audio.sample_rate,
  };
}

function speakerIdOf(speaker: string | number | undefined, config: VoiceConfig): number | undefined {
  if (!isMultiSpeaker(config)) {
    if (speaker === undefined) return undefined;
    throw new BadInputError(`unknown speaker ${JSON.stringify(speaker)}: the voice has a single speaker`);
  }
  if (speaker === undefined) return 0;
  const names = Object.keys(config.speaker_id_map);
  if (typeof speaker === "string") {
    const id = config.speaker_id_map[speaker];
    if (id !== undefined) return id;
    const some = names.slice(0, 10).map((n) => JSON.stringify(n));
    throw new BadInputError(
      `unknown speaker ${JSON.stringify(speaker)}: the voice's speakers are ${some.join(", ") || "numbered only"}` +
        `${names.length > 10 ? ` and ${names.length - 10} more` : ""} (or an id 0..${config.num_speakers - 1})`,
    );
  }
  if (speaker < config.num_speakers) return speaker;
  throw new BadInputError(`unknown speaker ${speaker}: the voice has speakers 0..${config.num_speakers - 1}`);
}
