import { BadInputError } from "../../errors.ts";
import { type Clause, isSpeakable, splitSentences } from "./clauses.ts";
import { espeakPhonemes } from "./espeak.ts";
import type { VoiceConfig } from "./voice-config.ts";

/** One sentence's phonemes (one codepoint each, NFD) and the text they came from. */
export interface PhonemizedSentence {
  phonemes: string[];
  text: string;
}

/** Piper's built-in phoneme replacements for an espeak-ng voice whose config has no phoneme_map. */
const DEFAULT_PHONEME_MAP: Record<string, Record<string, string[]>> = { "pt-br": { c: ["k"] } };

/**
 * Text to phonemes as Piper makes them: espeak-ng's IPA per clause in the voice's language,
 * language-switch flags such as "(en)" removed, the clause's terminator kept as a phoneme (a
 * space after ",", ":" and ";"), decomposed to NFD codepoints, then the config's phoneme_map.
 * A "text" voice takes the sentence's own codepoints.
 */
export async function phonemizeScript(text: string, config: VoiceConfig): Promise<PhonemizedSentence[]> {
  const sentences = splitSentences(text);
  const map = Object.keys(config.phoneme_map).length
    ? config.phoneme_map
    : (DEFAULT_PHONEME_MAP[config.espeak?.voice ?? ""] ?? {});
  const remap = (codepoints: string[]) => codepoints.flatMap((p) => map[p] ?? [p]);
  const sentenceText = (s: Clause[]) => s.map((c) => c.text).join(" ");

  if (config.phoneme_type === "text")
    return sentences.map((s) => ({ phonemes: remap(codepoints(sentenceText(s))), text: sentenceText(s) }));

  const clauses = sentences.flat();
  const ipa = await espeakPhonemes(
    clauses.map((c) => c.text),
    config.espeak!.voice,
  );
  const unspoken = clauses.filter((c, i) => isSpeakable(c.text) && !isSpeakable(ipa[i]!));
  if (unspoken.length)
    throw new BadInputError(
      `espeak-ng (voice ${config.espeak!.voice}) has no phonemes for ${unspoken
        .slice(0, 5)
        .map((c) => JSON.stringify(c.text.slice(0, 60)))
        .join(", ")}: these characters would be dropped silently`,
    );
  let next = 0;
  return sentences.map((sentence) => {
    const phonemes = sentence.flatMap((clause) => {
      let said = ipa[next++]!.replace(/\([^)]*\)/g, "");
      if (clause.terminator) said += clause.terminator;
      if (clause.terminator === "," || clause.terminator === ":" || clause.terminator === ";") said += " ";
      return remap(codepoints(said));
    });
    return { phonemes, text: sentenceText(sentence) };
  });
}

const codepoints = (s: string) => Array.from(s.normalize("NFD"));
