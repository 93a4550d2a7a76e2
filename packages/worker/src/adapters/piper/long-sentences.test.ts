import { describe, expect, it } from "vitest";
import { splitLongSentence } from "./long-sentences.ts";

const chars = (s: string) => Array.from(s);
const joined = (runs: string[][]) => runs.map((r) => r.join(""));

describe("splitLongSentence", () => {
  it("keeps a sentence within the limit whole", () => {
    expect(joined(splitLongSentence(chars("ab cd."), 6))).toEqual(["ab cd."]);
  });

  it("cuts after a clause mark before cutting at a space", () => {
    expect(joined(splitLongSentence(chars("ab, cd ef gh."), 10))).toEqual(["ab, ", "cd ef gh."]);
  });

  it("cuts at the last space when there is no clause mark", () => {
    expect(joined(splitLongSentence(chars("ab cd ef gh."), 7))).toEqual(["ab cd ", "ef gh."]);
  });

  it("cuts anywhere when a run has no space, and every run is within the limit", () => {
    const runs = splitLongSentence(chars("abcdefghij"), 4);
    expect(joined(runs)).toEqual(["abcd", "efgh", "ij"]);
    expect(runs.every((r) => r.length <= 4)).toBe(true);
  });
});
