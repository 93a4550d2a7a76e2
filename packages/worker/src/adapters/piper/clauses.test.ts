import { describe, expect, it } from "vitest";
import { splitSentences } from "./clauses.ts";

describe("splitSentences", () => {
  it("ends clauses at marks followed by a space, sentences at . ? !", () => {
    expect(splitSentences("Hello, world. How are you? Fine: thanks; really!")).toEqual([
      [
        { text: "Hello,", terminator: "," },
        { text: "world.", terminator: "." },
      ],
      [{ text: "How are you?", terminator: "?" }],
      [
        { text: "Fine:", terminator: ":" },
        { text: "thanks;", terminator: ";" },
        { text: "really!", terminator: "!" },
      ],
    ]);
  });

  it("goes on through marks inside words and numbers", () => {
    expect(splitSentences("Pi is 3.14 and a,b stays")).toEqual([[{ text: "Pi is 3.14 and a,b stays" }]]);
  });

  it("keeps closing quotes in the clause and takes the last mark of a run", () => {
    expect(splitSentences('He said "stop." Really?! Wait… then')).toEqual([
      [{ text: 'He said "stop."', terminator: "." }],
      [{ text: "Really?!", terminator: "!" }],
      [{ text: "Wait…", terminator: "." }],
      [{ text: "then" }],
    ]);
  });

  it("ends a sentence at a blank line and drops punctuation-only sentences", () => {
    expect(splitSentences("Chapter One\n\n  It was late.\n... \n")).toEqual([
      [{ text: "Chapter One" }],
      [{ text: "It was late.", terminator: "." }],
    ]);
  });

  it("reads a single newline as a space", () => {
    expect(splitSentences("one\ntwo.")).toEqual([[{ text: "one\ntwo.", terminator: "." }]]);
  });
});
