import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import { z } from "zod";
import { canonicalJson, SHA256_HEX } from "../hashing.ts";

/**
 * The snapshot object: gzip JSON lines — a header, one line per ledger key, and a trailer
 * carrying the SHA-256 of every line before it. Pure: no Redis, no S3.
 */

export const SNAPSHOT_FORMAT = "mediaq-ledger-snapshot";
export const SNAPSHOT_VERSION = 1;

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

const score = z.string();
/** One ledger key. `x` = absolute expiry (ms since epoch) when the key had a TTL. */
export const snapshotEntrySchema = z.discriminatedUnion("t", [
  z.object({ k: z.string(), t: z.literal("string"), v: z.string(), x: z.number().optional() }),
  z.object({ k: z.string(), t: z.literal("hash"), v: z.record(z.string(), z.string()), x: z.number().optional() }),
  z.object({ k: z.string(), t: z.literal("list"), v: z.array(z.string()), x: z.number().optional() }),
  z.object({ k: z.string(), t: z.literal("set"), v: z.array(z.string()), x: z.number().optional() }),
  z.object({ k: z.string(), t: z.literal("zset"), v: z.array(z.tuple([z.string(), score])), x: z.number().optional() }),
]);
export type SnapshotEntry = z.infer<typeof snapshotEntrySchema>;

const headerSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  id: z.string(),
  createdAt: z.string(),
  root: z.string(),
});
export type SnapshotHeader = z.infer<typeof headerSchema>;

const trailerSchema = z.object({
  end: z.literal(true),
  keys: z.number().int().min(0),
  sha256: z.string().regex(SHA256_HEX),
});

const SNAPSHOT_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]+$/;

/** Ids sort by creation time as plain strings: 2026-11-26T03-40-00-123Z-9f3a1c. */
export function newSnapshotId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/:/g, "-").replace(".", "-")}-${randomBytes(3).toString("hex")}`;
}

export function isSnapshotId(id: string): boolean {
  return SNAPSHOT_ID.test(id);
}

/**
 * Writes a snapshot as JSON lines into `out` (a gzip stream), hashing every line but the
 * trailer. Respects backpressure so memory stays at one key plus gzip's buffers.
 */
export class SnapshotEncoder {
  private readonly hash = createHash("sha256");
  keys = 0;
  private readonly out: Writable;

  constructor(out: Writable) {
    this.out = out;
  }

  private async line(text: string, hashed: boolean): Promise<void> {
    const buf = Buffer.from(`${text}\n`, "utf8");
    if (hashed) this.hash.update(buf);
    if (!this.out.write(buf)) await once(this.out, "drain");
  }

  header(h: SnapshotHeader): Promise<void> {
    return this.line(canonicalJson(h), true);
  }

  async entry(e: SnapshotEntry): Promise<void> {
    this.keys++;
    await this.line(canonicalJson(e), true);
  }

  /** Writes the trailer and ends the stream; returns the checksum. */
  async finish(): Promise<{ sha256: string; keys: number }> {
    const sha256 = this.hash.digest("hex");
    await this.line(canonicalJson({ end: true, keys: this.keys, sha256 }), false);
    this.out.end();
    return { sha256, keys: this.keys };
  }
}

/**
 * Reads a gzip snapshot stream, checking gzip integrity, each line's shape and the
 * trailer's checksum and key count; throws a SnapshotError naming what is wrong. Entries
 * are handed to onEntry as they stream by, so verify first (onEntry undefined) before
 * writing anything anywhere.
 */
export async function readSnapshot(
  source: Readable,
  onEntry?: (entry: SnapshotEntry) => Promise<void> | void,
  label = "snapshot",
): Promise<{ header: SnapshotHeader; keys: number; sha256: string }> {
  const bad = (why: string) =>
    new SnapshotError(`${label} is corrupt or not a mediaq snapshot: ${why}; nothing was restored from it`);
  const hash = createHash("sha256");
  let header: SnapshotHeader | undefined;
  let trailer: z.infer<typeof trailerSchema> | undefined;
  let keys = 0;
  let lineNo = 0;
  const handle = async (line: Buffer) => {
    lineNo++;
    if (trailer) throw bad(`data after the end marker (line ${lineNo})`);
    let value: unknown;
    try {
      value = JSON.parse(line.toString("utf8"));
    } catch {
      throw bad(`line ${lineNo} is not JSON`);
    }
    if (!header) {
      const h = headerSchema.safeParse(value);
      if (!h.success) throw bad("missing or unknown header");
      header = h.data;
      hash.update(line).update("\n");
      return;
    }
    if (value && typeof value === "object" && "end" in value) {
      const t = trailerSchema.safeParse(value);
      if (!t.success) throw bad("malformed end marker");
      trailer = t.data;
      return;
    }
    const e = snapshotEntrySchema.safeParse(value);
    if (!e.success) throw bad(`line ${lineNo} is not a ledger entry`);
    hash.update(line).update("\n");
    keys++;
    await onEntry?.(e.data);
  };

  const gunzip = createGunzip();
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  let rest = Buffer.alloc(0);
  try {
    for await (const chunk of gunzip) {
      let buf = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
      let nl = buf.indexOf(0x0a);
      while (nl !== -1) {
        await handle(buf.subarray(0, nl));
        buf = buf.subarray(nl + 1);
        nl = buf.indexOf(0x0a);
      }
      rest = Buffer.from(buf);
    }
  } catch (err) {
    if (err instanceof SnapshotError) throw err;
    throw bad(`gzip data is damaged (${(err as Error).message})`);
  } finally {
    source.unpipe(gunzip);
    if (!source.readableEnded) source.destroy();
  }
  if (rest.length > 0) throw bad("truncated (last line has no end)");
  if (!header) throw bad("empty");
  if (!trailer) throw bad("truncated (no end marker)");
  const sha256 = hash.digest("hex");
  if (sha256 !== trailer.sha256) throw bad(`checksum mismatch (content ${sha256}, recorded ${trailer.sha256})`);
  if (keys !== trailer.keys) throw bad(`holds ${keys} keys but recorded ${trailer.keys}`);
  return { header, keys, sha256 };
}
