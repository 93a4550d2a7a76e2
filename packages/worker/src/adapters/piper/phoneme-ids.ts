import { BOS, EOS, PAD } from "./voice-config.ts";

export type PhonemeIdMap = Readonly<Record<string, readonly number[]>>;

/**
 * A sentence's phonemes to the model's ids exactly as Piper maps them: BOS and a pad, then
 * each phoneme's ids followed by a pad, then EOS ("^ _ p1 _ p2 _ ... pn _ $"). Phonemes the
 * map lacks are returned in `missing`: Piper skips them with a warning, the caller refuses them.
 */
export function phonemesToIds(phonemes: readonly string[], map: PhonemeIdMap): { ids: number[]; missing: string[] } {
  const pad = map[PAD]!;
  const ids = [...map[BOS]!, ...pad];
  const missing: string[] = [];
  for (const phoneme of phonemes) {
    const mapped = map[phoneme];
    if (!mapped) {
      missing.push(phoneme);
      continue;
    }
    ids.push(...mapped, ...pad);
  }
  ids.push(...map[EOS]!);
  return { ids, missing };
}

/** A phoneme as a reader can find it: the character and its code point(s). */
export const describePhoneme = (p: string) =>
  `"${p}" (${Array.from(p)
    .map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`)
    .join(" ")})`;
