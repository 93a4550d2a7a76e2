import { type Archiver, type EntryData, ZipArchive } from "archiver";

export type { Archiver, EntryData };

/** A store-mode ZIP writer: outputs are already compressed video. Zip64 only where needed. */
export function createZipArchive(): Archiver {
  return new ZipArchive({ store: true, forceZip64: false });
}
