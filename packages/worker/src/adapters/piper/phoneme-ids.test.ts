import { describe, expect, it } from "vitest";
import { describePhoneme, phonemesToIds } from "./phoneme-ids.ts";

const map = { _: [0], "^": [1], $: [2], " ": [3], a: [14], b: [15], ː: [122], ɪ: [74, 75] };

describe("phonemesToIds", () => {
  it("writes BOS and a pad, each phoneme followed by a pad, then EOS (Piper's layout)", () => {
    expect(phonemesToIds(["a", " ", "b", "ː"], map)).toEqual({
      ids: [1, 0, 14, 0, 3, 0, 15, 0, 122, 0, 2],
      missing: [],
    });
  });

  it("writes every id of a phoneme mapped to several, then one pad", () => {
    expect(phonemesToIds(["ɪ"], map).ids).toEqual([1, 0, 74, 75, 0, 2]);
  });

  it("reports phonemes the map lacks instead of writing them", () => {
    expect(phonemesToIds(["a", "ʁ", "b", "ʁ"], map)).toEqual({ ids: [1, 0, 14, 0, 15, 0, 2], missing: ["ʁ", "ʁ"] });
  });

  it("names a phoneme with its code point", () => {
    expect(describePhoneme("ʁ")).toBe('"ʁ" (U+0281)');
  });
});
