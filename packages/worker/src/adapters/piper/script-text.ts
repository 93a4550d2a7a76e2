import { BadInputError } from "../../errors.ts";

/**
 * The longest script an item may hold, in characters (UTF-16 code units, as JavaScript counts):
 * about 20 minutes of speech, a 55 MB WAV at 22.05 kHz. Longer texts are split into items.
 * See docs/architecture.md "Adapters".
 */
export const MAX_TEXT_CHARS = 20_000;
/** A UTF-8 character is at most 4 bytes: a bigger blob is over the limit before decoding it. */
const MAX_TEXT_BYTES = MAX_TEXT_CHARS * 4;

/** An item's text blob as a string: strict UTF-8 (a BOM is dropped), not blank, within the limit. */
export function decodeScript(bytes: Uint8Array, label = "text"): string {
  const over = (size: string) =>
    new BadInputError(`${label} has ${size}, over the limit of ${MAX_TEXT_CHARS} characters: split it into items`);
  if (bytes.length > MAX_TEXT_BYTES) throw over(`${bytes.length} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BadInputError(`${label} is not UTF-8 text (invalid byte at offset ${firstInvalidByte(bytes)})`);
  }
  if (text.includes("\0")) throw new BadInputError(`${label} holds a NUL character: it is binary, not text`);
  if (text.trim() === "") throw new BadInputError(`${label} is empty or only whitespace: there is nothing to speak`);
  if (text.length > MAX_TEXT_CHARS) throw over(`${text.length} characters`);
  return text;
}

/** Offset of the byte where strict decoding fails (the start of the first bad sequence's end). */
function firstInvalidByte(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return bytes.length; // a sequence cut short at the end
}
