import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type PlanItem, planPackage } from "../src/plan.ts";
import { writePart } from "../src/zip-part.ts";

/**
 * The packager's real part writer (writePart: archiver, source hash checks, part hash)
 * and real size planner (planPackage / zip-layout) on a part over 4 GiB, with generated
 * sources and a local file as the sink instead of S3: s3rver is too slow to push 4 GiB
 * through in CI. zip64.test.ts runs the same case end to end through S3 (slow, opt-in).
 */

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The part (~4.3 GB) plus headroom for whatever else the suite writes to the same disk. */
const DISK_NEEDED = 10 * 1000 ** 3;

// small; huge (> 4 GiB: Zip64 sizes and data descriptor); small after it (its local
// header starts past 4 GiB: Zip64 offset), with an odd size so the last chunk is partial.
const ITEMS = [
  { name: "before", size: 3 * MiB },
  { name: "huge", size: 4 * GiB + 5 * MiB },
  { name: "after", size: 2 * MiB + 7 },
];

/** Pseudo-random 1 MiB block from a seed (AES-CTR keystream): incompressible, repeatable. */
function block(seed: number): Buffer {
  const key = createHash("sha256").update(`zip64-local-${seed}`).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(MiB));
}

/**
 * Chunk i of an item: its block stamped with the chunk number, so the content is not
 * periodic and a lost, repeated or reordered chunk changes the hash.
 */
function* chunks(seed: number, size: number): Generator<Buffer> {
  const base = block(seed);
  for (let i = 0, at = 0; at < size; i++, at += MiB) {
    const chunk = Buffer.allocUnsafe(Math.min(MiB, size - at));
    base.copy(chunk, 0, 0, chunk.length);
    if (chunk.length >= 4) chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

function itemStream(seed: number, size: number): Readable {
  const it = chunks(seed, size);
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      const next = it.next();
      this.push(next.done ? null : next.value);
    },
  });
}

function itemSha256(seed: number, size: number): string {
  const hash = createHash("sha256");
  for (const chunk of chunks(seed, size)) hash.update(chunk);
  return hash.digest("hex");
}

async function run(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(cmd, args, { encoding: "utf8", maxBuffer: 64 * MiB });
  return stdout;
}

describe("Zip64 (local streams)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-zip64-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("Zip64: a part over 4 GiB with an entry over 4 GiB (local streams) is planned exactly and passes unzip, 7z, bsdtar and Python's zipfile", async () => {
    const stats = fs.statfsSync(dir);
    const free = stats.bavail * stats.bsize;
    expect(
      free,
      `needs 10 GB free under ${dir} (has ${(free / 1000 ** 3).toFixed(1)} GB): free disk space or set TMPDIR to a larger disk`,
    ).toBeGreaterThanOrEqual(DISK_NEEDED);
    const t0 = Date.now();
    const phase = (name: string) => console.log(`zip64-local ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const items: PlanItem[] = ITEMS.map((item, index) => ({
      index,
      name: item.name,
      jobKey: `job-${index}`,
      state: "succeeded",
      model: "wav2lip",
      params: {},
      output: { key: `outputs/${index}`, size: item.size, sha256: itemSha256(index, item.size) },
    }));
    phase("sources hashed");
    const plan = planPackage({
      packageId: "pkg-zip64-local",
      batchId: "batch-zip64-local",
      createdAt: "2024-01-01T00:00:00.000Z",
      partSize: 5 * GiB,
      items,
    });
    expect(plan.parts).toHaveLength(1);
    const part = plan.parts[0] as (typeof plan.parts)[number];
    expect(part.entries.map((e) => e.size)).toEqual(ITEMS.map((i) => i.size));
    expect(part.size).toBeGreaterThan(4 * GiB + 10 * MiB);

    const file = path.join(dir, part.name);
    let progress = 0;
    const built = await writePart({
      manifest: plan.manifestBytes,
      date: new Date("2024-01-01T00:00:00Z"),
      sources: part.entries.map((e) => ({
        entry: e.entry,
        size: e.size,
        sha256: e.sha256,
        origin: `generated item ${e.index}`,
        open: async () => itemStream(e.index, e.size),
      })),
      sink: (body) => pipeline(body, fs.createWriteStream(file)),
      onBytes: (bytes) => {
        progress = bytes;
      },
    });
    phase("part written");
    // The planner's exact size is what the S3 part job checks every built part against.
    expect(built.size).toBe(part.size);
    expect(fs.statSync(file).size).toBe(part.size);
    expect(progress).toBe(part.size);
    // unzip -t is the slowest reader (~20 s here, single-threaded CRC): it runs alongside the rest.
    const unzipTest = run("unzip", ["-t", file]).then((out) => {
      phase("unzip -t");
      return out;
    });
    unzipTest.catch(() => {}); // awaited below; an earlier failure must not leave it unhandled
    // Python's hashlib (OpenSSL, SHA extensions) is ~4x faster than coreutils sha256sum.
    const fileSha256 = await run("python3", [
      "-c",
      "import hashlib,sys\nh=hashlib.sha256()\nwith open(sys.argv[1],'rb') as f:\n" +
        "  for b in iter(lambda: f.read(1 << 20), b''): h.update(b)\nprint(h.hexdigest())",
      file,
    ]);
    expect(fileSha256.trim()).toBe(built.sha256);
    phase("sha256 of the file");

    const names = ["manifest.json", ...part.entries.map((e) => e.entry)];
    expect(await run("unzip", ["-p", file, "manifest.json"])).toBe(plan.manifestBytes.toString("utf8"));
    expect(await run("7z", ["t", file])).toMatch(/Everything is Ok/);
    phase("7z t");
    expect((await run("bsdtar", ["-tf", file])).trim().split("\n")).toEqual(names);
    phase("bsdtar -tf");
    // testzip reads every entry and checks its CRC; then the central directory: sizes,
    // offsets, and which headers carry a Zip64 extra field (id 0x0001).
    const listing = await run("python3", [
      "-c",
      "import zipfile,sys,json,struct; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; " +
        "print(json.dumps([[i.filename, i.file_size, i.compress_size, i.header_offset, " +
        "len(i.extra) >= 4 and struct.unpack('<H', i.extra[:2])[0] == 1] for i in z.infolist()]))",
      file,
    ]);
    phase("python zipfile");
    const entries = JSON.parse(listing) as [string, number, number, number, boolean][];
    expect(entries.map((e) => e[0])).toEqual(names);
    expect(entries.slice(1).map((e) => e[1])).toEqual(ITEMS.map((i) => i.size));
    expect(entries.slice(1).map((e) => e[2])).toEqual(ITEMS.map((i) => i.size)); // stored
    const [, , huge, after] = entries as [unknown, unknown, (typeof entries)[number], (typeof entries)[number]];
    expect(huge[1]).toBe(4 * GiB + 5 * MiB);
    expect(after[3]).toBeGreaterThan(4 * GiB);
    // Zip64 extra only where needed: the huge entry (size) and the one after it (offset).
    expect(entries.map((e) => e[4])).toEqual([false, false, true, true]);
    const unzipped = await unzipTest;
    for (const name of names) expect(unzipped).toMatch(new RegExp(`testing: ${name.replace(".", "\\.")} +OK`));
    expect(unzipped).toMatch(/No errors detected/);
  }, 300_000);
});
