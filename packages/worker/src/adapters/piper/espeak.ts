import { spawn } from "node:child_process";
import { BadInputError } from "../../errors.ts";
import { isSpeakable } from "./clauses.ts";

/**
 * IPA phonemes from espeak-ng, Debian's package (scripts/setup.sh): one process per script, fed
 * one line per piece of text. A blank line after each piece makes espeak-ng print an empty
 * line, which marks where the piece's phonemes end (a piece may print several lines: espeak-ng
 * cuts long clauses). See docs/architecture.md "Adapters" for why the binary and not a wasm build.
 */
export const ESPEAK_BINARY = "espeak-ng";

/**
 * espeak-ng reads standard input a line at a time into a buffer of about 1000 bytes and cuts
 * longer lines mid-word; pieces stay under this many UTF-8 bytes, cut at spaces.
 */
export const MAX_PIECE_BYTES = 800;

/**
 * Phonemes of each text, in order: espeak-ng's IPA, one string per text (its lines joined by a
 * space). A text of punctuation alone is not sent (espeak-ng prints an empty line for it) and gets "".
 */
export async function espeakPhonemes(texts: readonly string[], voice: string): Promise<string[]> {
  const pieces = texts.map((t) => (isSpeakable(t) ? toPieces(t) : []));
  const flat = pieces.flat();
  let perPiece = flat.length ? piecesOf(await run(flat.map((p) => `${p}\n\n`).join(""), voice)) : [];
  // Every blank line prints exactly one empty line, so when the counts agree each piece's lines
  // are where they seem. A piece that prints an empty line of its own (characters espeak-ng
  // cannot say) adds one: then each piece is asked alone, which is slower but exact.
  if (perPiece.length !== flat.length) {
    perPiece = [];
    for (const piece of flat) perPiece.push(piecesOf(`${await run(`${piece}\n`, voice)}\n`).join(" "));
  }
  let next = 0;
  return pieces.map((p) => {
    const lines = perPiece.slice(next, next + p.length);
    next += p.length;
    return lines.filter(Boolean).join(" ");
  });
}

/** espeak-ng's output cut at its empty lines: the phonemes of each piece, its lines joined by a space. */
function piecesOf(output: string): string[] {
  const pieces: string[] = [];
  let current: string[] = [];
  for (const line of output.split("\n").slice(0, -1)) {
    if (line.trim() === "") {
      pieces.push(current.join(" "));
      current = [];
    } else current.push(line.trim());
  }
  return pieces;
}

/** One text as lines espeak-ng reads whole: newlines become spaces, long texts are cut at spaces. */
function toPieces(text: string): string[] {
  const words = text.replace(/\s+/g, " ").trim().split(" ");
  const pieces: string[] = [];
  let piece = "";
  for (const word of words) {
    if (Buffer.byteLength(word) > MAX_PIECE_BYTES)
      throw new BadInputError(
        `the text holds a word of ${word.length} characters without a space ("${word.slice(0, 20)}..."): ` +
          `words longer than ${MAX_PIECE_BYTES} bytes cannot be spoken`,
      );
    const joined = piece ? `${piece} ${word}` : word;
    if (Buffer.byteLength(joined) > MAX_PIECE_BYTES) {
      pieces.push(piece);
      piece = word;
    } else piece = joined;
  }
  pieces.push(piece);
  return pieces;
}

function run(input: string, voice: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ["-q", "--ipa", "-b", "1", "-v", voice];
    const child = spawn(ESPEAK_BINARY, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) =>
      reject(new Error(`${ESPEAK_BINARY} could not be started (is it installed?): ${e.message}`)),
    );
    child.stdin.on("error", () => {}); // an early exit is reported by "close" below
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      if (code === 0) return resolve(stdout);
      const why = `${Buffer.concat(err).toString("utf8")} ${stdout}`.trim();
      if (/voice does not exist|Failed to read voice/i.test(why))
        return reject(new BadInputError(`the voice's espeak.voice "${voice}" is not a voice of espeak-ng: ${why}`));
      reject(new Error(`${ESPEAK_BINARY} exited with ${code}: ${why.slice(0, 500)}`));
    });
    child.stdin.end(input);
  });
}
