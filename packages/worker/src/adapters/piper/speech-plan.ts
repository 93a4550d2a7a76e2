import { BadInputError } from "../../errors.ts";
import { splitLongSentence } from "./long-sentences.ts";
import { describePhoneme, phonemesToIds } from "./phoneme-ids.ts";
import { phonemizeScript } from "./phonemize.ts";
import type { VoiceConfig } from "./voice-config.ts";

/** What a script becomes before any inference: per sentence, the model inputs of its runs. */
export interface SpeechPlan {
  sentences: { text: string; runs: number[][] }[];
}

/**
 * Phonemizes a script and maps it to ids, all of it before the first session.run, so a bad
 * script fails at once and whole: every missing phoneme is named, with the text it is in.
 */
export async function planSpeech(text: string, config: VoiceConfig): Promise<SpeechPlan> {
  const phonemized = await phonemizeScript(text, config);
  const missing = new Map<string, string>(); // phoneme -> first sentence holding it
  const sentences = phonemized.map((s) => {
    const runs = splitLongSentence(s.phonemes).map((run) => {
      const mapped = phonemesToIds(run, config.phoneme_id_map);
      for (const p of mapped.missing) if (!missing.has(p)) missing.set(p, s.text);
      return mapped.ids;
    });
    return { text: s.text, runs };
  });
  if (missing.size)
    throw new BadInputError(
      `the voice's phoneme_id_map has no id for ${[...missing]
        .map(([p, where]) => `${describePhoneme(p)} in ${quote(where)}`)
        .join(", ")}: Piper would drop these sounds and change the words; ` +
        `rewrite the text (e.g. in the voice's language) or use a voice whose map has them`,
    );
  return { sentences };
}

const quote = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
