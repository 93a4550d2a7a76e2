import { randomBytes, randomInt } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createZipArchive } from "./archiver.ts";
import { type LayoutEntry, ZipSizer, zipSize } from "./zip-layout.ts";

/** Writes entries with archiver exactly as zip-part.ts does and returns the bytes. */
async function archiverOutput(entries: { name: string; data: Buffer; streamed: boolean }[]): Promise<Buffer> {
  const archive = createZipArchive();
  const chunks: Buffer[] = [];
  archive.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve, reject) => {
    archive.on("end", resolve);
    archive.on("error", reject);
  });
  for (const e of entries) {
    // Streams arrive in uneven chunks, like an S3 body.
    const pieces: Buffer[] = [];
    for (let at = 0; at < e.data.length; ) {
      const n = Math.min(e.data.length - at, randomInt(1, 70_000));
      pieces.push(e.data.subarray(at, at + n));
      at += n;
    }
    archive.append(e.streamed ? Readable.from(pieces) : e.data, { name: e.name, date: new Date(0) });
  }
  await archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const NAMES = ["manifest.json", "a.mp4", "clip (2).mp4", "é-ü.mp4", "😀 face.mp4", "日本語.mp4", "x"];

describe("zip layout of archiver store-mode parts", () => {
  it("predicts the exact size of random archives", async () => {
    for (let round = 0; round < 25; round++) {
      const count = randomInt(0, 8);
      const entries = [{ name: "manifest.json", data: randomBytes(randomInt(0, 5000)), streamed: false }];
      for (let i = 0; i < count; i++) {
        const size = [0, 1, randomInt(2, 1000), randomInt(1000, 300_000)][randomInt(0, 4)] as number;
        entries.push({ name: `${i}-${NAMES[randomInt(0, NAMES.length)]}`, data: randomBytes(size), streamed: true });
      }
      const bytes = await archiverOutput(entries);
      const layout: LayoutEntry[] = entries.map((e) => ({ name: e.name, size: e.data.length, streamed: e.streamed }));
      expect(bytes.length).toBe(zipSize(layout));
      const sizer = new ZipSizer();
      for (const e of layout) sizer.add(e);
      expect(sizer.total()).toBe(bytes.length);
    }
  });

  it("matches the layout byte for byte: data descriptors on streamed entries only", async () => {
    const data = randomBytes(1234);
    const bytes = await archiverOutput([
      { name: "manifest.json", data: Buffer.from("{}"), streamed: false },
      { name: "v.mp4", data, streamed: true },
    ]);
    // Local header of the buffer entry: no bit 3, sizes filled in.
    expect(bytes.readUInt32LE(0)).toBe(0x04034b50);
    expect(bytes.readUInt16LE(6) & 0x08).toBe(0);
    expect(bytes.readUInt32LE(22)).toBe(2);
    const second = 30 + "manifest.json".length + 2;
    expect(bytes.readUInt32LE(second)).toBe(0x04034b50);
    expect(bytes.readUInt16LE(second + 6) & 0x08).toBe(0x08);
    expect(bytes.readUInt16LE(second + 28)).toBe(0); // no extra field
    const descriptor = second + 30 + "v.mp4".length + data.length;
    expect(bytes.readUInt32LE(descriptor)).toBe(0x08074b50);
    expect(bytes.readUInt32LE(descriptor + 8)).toBe(data.length);
    expect(bytes.readUInt32LE(bytes.length - 22)).toBe(0x06054b50);
  });

  it("counts Zip64 records where archiver writes them", () => {
    const small: LayoutEntry = { name: "a.mp4", size: 10, streamed: true };
    const big: LayoutEntry = { name: "b.mp4", size: 2 ** 32, streamed: true };
    // > 4 GiB entry: 8 more descriptor bytes, 28-byte Zip64 extra in the central header,
    // and the directory offset passes 4 GiB so the Zip64 end record and locator follow.
    expect(zipSize([big])).toBe(30 + 5 + 2 ** 32 + 24 + 46 + 5 + 28 + 56 + 20 + 22);
    // An entry whose local header starts past 4 GiB gets the extra field too.
    expect(zipSize([big, small]) - zipSize([big])).toBe(30 + 5 + 10 + 16 + 46 + 5 + 28);
    expect(zipSize([small])).toBe(30 + 5 + 10 + 16 + 46 + 5 + 22);
  });
});
