/**
 * Turns user-given item names into ZIP entry names that extract safely everywhere:
 * one flat folder (a "/" in a name becomes "_", so no entry can climb out of the target
 * directory or clash with a folder), no control characters, no characters Windows refuses,
 * NFC so the same visible name is the same entry, the output's extension at the end (`.mp4`,
 * `.wav`: the result's), and names made unique case-insensitively the way a file manager
 * does it: `clip.mp4`, `clip (2).mp4`.
 */

/** The extension of outputs recorded without one (all lip-sync videos). */
export const OUTPUT_EXTENSION = ".mp4";
/** Longest entry name in UTF-8 bytes (common file-system limit). */
const MAX_NAME_BYTES = 255;

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const UNSAFE = /[\\/:*?"<>|]/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** A single safe file name for an item (not yet unique). */
export function sanitizeEntryName(raw: string, fallback: string, extension = OUTPUT_EXTENSION): string {
  // Path segments that only navigate ("", ".", "..") are dropped; the rest are joined flat.
  const segments = raw
    .normalize("NFC")
    .replace(CONTROL, "")
    .split(/[\\/]/)
    .filter((s) => s.trim() !== "" && s !== "." && s !== "..");
  let name = segments.join("_").replace(UNSAFE, "_");
  // Leading dots would hide the file or spell ".."; trailing dots and spaces vanish on Windows.
  name = name.replace(/^[\s.]+/, "").replace(/[\s.]+$/, "");
  if (name === "" || name.replace(/_/g, "") === "") name = fallback;
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  if (!name.toLowerCase().endsWith(extension)) name += extension;
  return truncateStem(name, MAX_NAME_BYTES);
}

function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
}

/** Cuts whole characters off the end of text until it fits in maxBytes of UTF-8. */
function fitBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const chars = Array.from(text);
  while (chars.length > 1 && Buffer.byteLength(chars.join("")) > maxBytes) chars.pop();
  return chars.join("");
}

/** Shortens the part before the extension so the whole name fits in maxBytes of UTF-8. */
function truncateStem(name: string, maxBytes: number): string {
  const [stem, ext] = splitExtension(name);
  return fitBytes(stem, maxBytes - Buffer.byteLength(ext)) + ext;
}

/**
 * Entry names for items in order, each with its extension (default `.mp4`); the first of
 * equal names keeps it, later ones get " (2)", " (3)", ... Names in `reserved` (e.g.
 * manifest.json) are never handed out.
 */
export function uniqueEntryNames(
  raw: (string | { name: string; extension: string })[],
  reserved: string[] = [],
): string[] {
  const taken = new Set(reserved.map((n) => n.toLowerCase()));
  return raw.map((r, i) => {
    const { name: given, extension } = typeof r === "string" ? { name: r, extension: OUTPUT_EXTENSION } : r;
    const base = sanitizeEntryName(given, `item-${i + 1}`, extension);
    const [stem, ext] = splitExtension(base);
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) {
      const suffix = ` (${n})${ext}`;
      name = fitBytes(stem, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
    }
    taken.add(name.toLowerCase());
    return name;
  });
}
