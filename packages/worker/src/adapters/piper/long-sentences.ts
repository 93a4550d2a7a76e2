/**
 * The most phonemes one session.run is given. VITS's text encoder attends over the whole
 * input (memory grows with its square) and its output is one buffer, so a sentence longer than
 * this (a paragraph of commas) is synthesized in runs, joined without a pause.
 */
export const MAX_PHONEMES_PER_RUN = 400;

const CLAUSE_MARKS = new Set([",", ":", ";"]);

/** Cuts a sentence's phonemes into runs of at most `max`: after a clause mark, else at a space, else anywhere. */
export function splitLongSentence(phonemes: readonly string[], max = MAX_PHONEMES_PER_RUN): string[][] {
  const runs: string[][] = [];
  let rest = phonemes.slice();
  while (rest.length > max) {
    let cut = -1;
    for (let i = max; i > 0 && cut < 0; i--) if (rest[i - 1] === " " && CLAUSE_MARKS.has(rest[i - 2] ?? "")) cut = i;
    for (let i = max; i > 0 && cut < 0; i--) if (rest[i - 1] === " ") cut = i;
    if (cut < 0) cut = max;
    runs.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length) runs.push(rest);
  return runs;
}
