/**
 * Exact byte layout of a ZIP written by archiver 7 (zip-stream 6 / compress-commons 6) in
 * store mode, so a part's size is known before it is written. Checked against archiver's
 * real output in zip-layout.test.ts. What archiver writes:
 * - a Buffer entry (manifest.json): local header 30 + name, data, no data descriptor;
 * - a streamed entry (an output): local header 30 + name with zero CRC/sizes (bit 3 set),
 *   data, then a data descriptor of 16 bytes (24 when the entry itself is > 4 GiB, where
 *   archiver switches the descriptor to 8-byte sizes);
 * - per entry a central header 46 + name, plus a 28-byte Zip64 extra field when the entry
 *   is > 4 GiB or its local header starts beyond 4 GiB;
 * - end of central directory 22, preceded by the Zip64 end record (56) and locator (20)
 *   when there are > 65535 entries or the directory's offset or length passes 4 GiB.
 * No extra fields otherwise, no comments, names as UTF-8 bytes.
 */

const ZIP64_MAGIC = 0xffffffff;
const ZIP64_MAGIC_SHORT = 0xffff;

const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const DATA_DESCRIPTOR = 16;
const DATA_DESCRIPTOR_ZIP64 = 24;
const CENTRAL_ZIP64_EXTRA = 28;
const END_RECORD = 22;
const ZIP64_END_RECORD = 56;
const ZIP64_END_LOCATOR = 20;

export interface LayoutEntry {
  /** The entry name exactly as archiver stores it. */
  name: string;
  size: number;
  /** true: appended as a stream (data descriptor follows); false: appended as a Buffer. */
  streamed: boolean;
}

/** Bytes of an entry's local header, data and data descriptor. */
export function localEntrySize(e: LayoutEntry): number {
  const descriptor = e.streamed ? (e.size > ZIP64_MAGIC ? DATA_DESCRIPTOR_ZIP64 : DATA_DESCRIPTOR) : 0;
  return LOCAL_HEADER + Buffer.byteLength(e.name) + e.size + descriptor;
}

/** Bytes of an entry's central directory header, given where its local header starts. */
export function centralEntrySize(e: LayoutEntry, localOffset: number): number {
  const zip64 = e.size > ZIP64_MAGIC || localOffset > ZIP64_MAGIC;
  return CENTRAL_HEADER + Buffer.byteLength(e.name) + (zip64 ? CENTRAL_ZIP64_EXTRA : 0);
}

/** The exact size of the archive archiver writes for these entries, in this order. */
export function zipSize(entries: LayoutEntry[]): number {
  let offset = 0;
  let central = 0;
  for (const e of entries) {
    central += centralEntrySize(e, offset);
    offset += localEntrySize(e);
  }
  const zip64 = entries.length > ZIP64_MAGIC_SHORT || central > ZIP64_MAGIC || offset > ZIP64_MAGIC;
  return offset + central + (zip64 ? ZIP64_END_RECORD + ZIP64_END_LOCATOR : 0) + END_RECORD;
}

/** Running size of an archive being planned entry by entry (same rules as zipSize). */
export class ZipSizer {
  private offset = 0;
  private central = 0;
  private count = 0;

  add(e: LayoutEntry): void {
    this.central += centralEntrySize(e, this.offset);
    this.offset += localEntrySize(e);
    this.count++;
  }

  /** The archive's size if it ended now, or after one more entry. */
  total(next?: LayoutEntry): number {
    let offset = this.offset;
    let central = this.central;
    let count = this.count;
    if (next) {
      central += centralEntrySize(next, offset);
      offset += localEntrySize(next);
      count++;
    }
    const zip64 = count > ZIP64_MAGIC_SHORT || central > ZIP64_MAGIC || offset > ZIP64_MAGIC;
    return offset + central + (zip64 ? ZIP64_END_RECORD + ZIP64_END_LOCATOR : 0) + END_RECORD;
  }
}
