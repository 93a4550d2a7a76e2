import { Readable } from "node:stream";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  isSnapshotId,
  newSnapshotId,
  readSnapshot,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  SnapshotEncoder,
  type SnapshotEntry,
  SnapshotError,
} from "./format.ts";

const entries: SnapshotEntry[] = [
  { k: "mediaq:batch:b1", t: "hash", v: { json: '{"id":"b1"}' } },
  { k: "mediaq:batch:b1:items", t: "list", v: ["a", "b", "line\nbreak ✓"] },
  { k: "mediaq:tenant:t:blobs", t: "set", v: ["x", "y"] },
  { k: "mediaq:tenant:t:batches", t: "zset", v: [["b1", "1764128400000"]] },
  { k: "mediaq:tenant:t:idem:k", t: "string", v: "b1", x: 1_900_000_000_000 },
];

async function encode(list: SnapshotEntry[]): Promise<{ gz: Buffer; sha256: string }> {
  const gzip = createGzip();
  const chunks: Buffer[] = [];
  gzip.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gzip.on("end", r));
  const enc = new SnapshotEncoder(gzip);
  await enc.header({
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    id: "s",
    createdAt: "2026-11-26T00:00:00.000Z",
    root: "mediaq:",
  });
  for (const e of list) await enc.entry(e);
  const { sha256 } = await enc.finish();
  await done;
  return { gz: Buffer.concat(chunks), sha256 };
}

async function decode(gz: Buffer): Promise<{ got: SnapshotEntry[]; sha256: string; keys: number }> {
  const got: SnapshotEntry[] = [];
  // Small chunks so lines straddle chunk boundaries.
  const parts = Array.from({ length: Math.ceil(gz.length / 7) }, (_, i) => gz.subarray(i * 7, i * 7 + 7));
  const r = await readSnapshot(Readable.from(parts), (e) => {
    got.push(e);
  });
  return { got, sha256: r.sha256, keys: r.keys };
}

describe("snapshot format", () => {
  it("round-trips every key type, TTLs and odd characters through gzip JSON lines", async () => {
    const { gz, sha256 } = await encode(entries);
    const back = await decode(gz);
    expect(back.got).toEqual(entries);
    expect(back.keys).toBe(entries.length);
    expect(back.sha256).toBe(sha256);
  });

  it("refuses flipped bytes in the compressed object", async () => {
    const { gz } = await encode(entries);
    const bad = Buffer.from(gz);
    for (let i = 20; i < 30; i++) bad[i] = (bad[i] as number) ^ 0xff;
    await expect(decode(bad)).rejects.toThrow(SnapshotError);
    await expect(decode(bad)).rejects.toThrow(/corrupt/);
  });

  it("refuses a payload changed and re-compressed (checksum mismatch)", async () => {
    const { gz } = await encode(entries);
    const text = gunzipSync(gz).toString("utf8").replace('"a","b"', '"a","B"');
    await expect(decode(gzipSync(text))).rejects.toThrow(/checksum mismatch/);
  });

  it("refuses a truncated snapshot (no end marker)", async () => {
    const { gz } = await encode(entries);
    const lines = gunzipSync(gz).toString("utf8").split("\n");
    const cut = `${lines.slice(0, -2).join("\n")}\n`;
    await expect(decode(gzipSync(cut))).rejects.toThrow(/no end marker/);
  });

  it("refuses something that is not a snapshot", async () => {
    await expect(decode(gzipSync('{"hello":1}\n'))).rejects.toThrow(/header/);
  });
});

describe("snapshot ids", () => {
  it("makes ids that sort by time as strings", () => {
    const a = newSnapshotId(new Date("2026-11-26T03:40:00.005Z"));
    const b = newSnapshotId(new Date("2026-11-26T03:40:00.010Z"));
    const c = newSnapshotId(new Date("2026-12-01T00:00:00.000Z"));
    expect(a).toMatch(/^2026-11-26T03-40-00-005Z-[0-9a-f]{6}$/);
    expect([c, a, b].sort()).toEqual([a, b, c]);
    expect(isSnapshotId(a)).toBe(true);
    expect(isSnapshotId("../etc/passwd")).toBe(false);
  });
});
