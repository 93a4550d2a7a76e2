import { createRequire } from "node:module";
import type { Archiver, EntryData, ZipOptions } from "archiver";

export type { Archiver, EntryData };

// archiver 7 is CommonJS and exports a factory; @types/archiver 8 describes archiver 8's
// classes, whose instance API (append/finalize/abort/entry events) is the same.
const require = createRequire(import.meta.url);
const archiver = require("archiver") as (format: "zip", options: ZipOptions) => Archiver;

/** A store-mode ZIP writer: outputs are already compressed video. Zip64 only where needed. */
export function createZipArchive(): Archiver {
  return archiver("zip", { store: true, forceZip64: false });
}
