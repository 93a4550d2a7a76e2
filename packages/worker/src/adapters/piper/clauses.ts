/**
 * Text into sentences of clauses, each with the punctuation that ended it. Piper reads the
 * terminator of each clause from espeak-ng's library; espeak-ng's command line does not tell
 * it, so the text is cut here at the same marks (see docs/architecture.md "Adapters").
 */

/** The punctuation Piper keeps as a phoneme at a clause's end; ".", "?" and "!" end a sentence. */
export type Terminator = "." | "?" | "!" | "," | ":" | ";";

export interface Clause {
  /** The clause's words with their punctuation, trimmed; may hold nothing speakable ("..."). */
  text: string;
  /** Undefined where the clause ends without a mark (end of text or paragraph). */
  terminator?: Terminator;
}

/**
 * A clause ends at a run of marks followed by whitespace or the end of the text, as in
 * espeak-ng ("3.14" and "a,b" go on); closing quotes and brackets after the marks stay in it.
 */
const CLAUSE_END = /([.?!,:;…]+)["'”’»)\]]*(?=\s|$)/gu;
const ENDS_SENTENCE = new Set<Terminator>([".", "?", "!"]);
/** Something to say: a character that is neither whitespace nor punctuation. */
const SPEAKABLE = /[^\s\p{P}]/u;

export const isSpeakable = (text: string) => SPEAKABLE.test(text);

/** Sentences in reading order; a blank line also ends a sentence (a title without a full stop). */
export function splitSentences(text: string): Clause[][] {
  const sentences: Clause[][] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    let sentence: Clause[] = [];
    let start = 0;
    for (const m of paragraph.matchAll(CLAUSE_END)) {
      const end = m.index + m[0].length;
      const terminator = terminatorOf(m[1]!);
      sentence.push({ text: paragraph.slice(start, end).trim(), terminator });
      start = end;
      if (ENDS_SENTENCE.has(terminator)) {
        sentences.push(sentence);
        sentence = [];
      }
    }
    const rest = paragraph.slice(start).trim();
    if (rest) sentence.push({ text: rest });
    if (sentence.length) sentences.push(sentence);
  }
  // A sentence of punctuation alone ("...") says nothing: it is dropped (it would only add a pause).
  return sentences.filter((s) => s.some((c) => isSpeakable(c.text)));
}

/** The last mark of a run decides, as in Piper ("?!" asks nothing, it exclaims); "…" ends like ".". */
function terminatorOf(marks: string): Terminator {
  const last = marks.at(-1)!;
  return last === "…" ? "." : (last as Terminator);
}
