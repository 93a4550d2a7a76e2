import { readVoiceConfig, type VoiceConfig } from "@mediaq/shared";
import { BadInputError } from "../../errors.ts";

export { BOS, EOS, isMultiSpeaker, PAD, type VoiceConfig, voiceConfigSchema } from "@mediaq/shared";

/** Parses a voice config's bytes; anything that is not a Piper config is a BadInputError saying where. */
export function parseVoiceConfig(bytes: Uint8Array | string, label = "voice config"): VoiceConfig {
  const read = readVoiceConfig(bytes, label);
  if (!read.ok) throw new BadInputError(read.message);
  return read.config;
}
