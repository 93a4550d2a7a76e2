import { isMultiSpeaker, type PiperParams, type VoiceConfig } from "@mediaq/shared";
import { BadInputError } from "../../errors.ts";

export { type PiperParams, piperParamsSchema } from "@mediaq/shared";

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
