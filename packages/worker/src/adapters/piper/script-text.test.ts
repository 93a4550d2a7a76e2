import { describe, expect, it } from "vitest";
import { BadInputError } from "../../errors.ts";
import { decodeScript, MAX_TEXT_CHARS } from "./script-text.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("decodeScript", () => {
  it("decodes UTF-8 and drops a byte order mark", () => {
    expect(decodeScript(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8("Grüße")))).toBe("Grüße");
  });

  it.each([
    ["empty", utf8(""), /empty or only whitespace/],
    ["whitespace only", utf8(" \n\t "), /empty or only whitespace/],
    [
      "not UTF-8 (Latin-1)",
      Uint8Array.of(...utf8("Gr"), 0xfc, ...utf8("ße")),
      /not UTF-8 text \(invalid byte at offset 2\)/,
    ],
    ["binary with NUL", Uint8Array.of(0x41, 0, 0x42), /NUL character/],
    ["over the limit", utf8("a".repeat(MAX_TEXT_CHARS + 1)), /20001 characters, over the limit of 20000/],
    ["far over the limit", new Uint8Array(MAX_TEXT_CHARS * 4 + 1).fill(0x61), /80001 bytes, over the limit/],
  ])("refuses %s text", (_, bytes, message) => {
    expect(() => decodeScript(bytes)).toThrow(BadInputError);
    expect(() => decodeScript(bytes)).toThrow(message);
  });

  it("takes a text of exactly the limit", () => {
    expect(decodeScript(utf8("a".repeat(MAX_TEXT_CHARS)))).toHaveLength(MAX_TEXT_CHARS);
  });
});
