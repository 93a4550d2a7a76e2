import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client, paginateListObjectsV2 } from "@aws-sdk/client-s3";
import { type ConnectionOptions, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import { type Config, loadConfig } from "./config.ts";
import { canonicalJson, SHA256_HEX } from "./hashing.ts";
import { type InferenceJob, inputsSchema, QUEUES } from "./jobs.ts";
import { objectKeys, redisKeys as K } from "./keys.ts";
import { type BatchItem, type BatchRecord, type Counts, ITEM_STATES, type ItemState, Ledger } from "./ledger.ts";
import type { Logger } from "./logger.ts";
import { createInferenceQueue, enqueueInference } from "./queues.ts";
import { getObjectStream, headObject, putStream } from "./s3.ts";

/**
 * Ledger snapshots (DESIGN.md "State snapshot and restore"). Redis holds the ledger, S3
 * holds the truth: a snapshot is one gzip object of JSON lines — a header, one line per
 * ledger key (typed reads, so it loads into any Redis version), and a trailer carrying
 * the SHA-256 of every line before it. Event streams, package records and BullMQ's keys
 * are left out: the first two are ephemeral, the queues are rebuilt from the ledger.
 */

// ---- settings ----

export type SnapshotSettings = Pick<Config, "SNAPSHOT_RETENTION" | "SNAPSHOT_EVERY_SECONDS">;

/** The snapshot settings of the one config schema (bad values name their variable). */
export function loadSnapshotSettings(env: NodeJS.ProcessEnv = process.env): SnapshotSettings {
  const { SNAPSHOT_RETENTION, SNAPSHOT_EVERY_SECONDS } = loadConfig(env);
  return { SNAPSHOT_RETENTION, SNAPSHOT_EVERY_SECONDS };
}

// ---- format ----

export const SNAPSHOT_FORMAT = "mediaq-ledger-snapshot";
export const SNAPSHOT_VERSION = 1;
/** BullMQ queue of scheduled maintenance work (snapshots). */
export const MAINTENANCE_QUEUE = "maintenance";

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

/** Package records expire with their packages; a restored one would point at deleted parts. */
const PACKAGE_RECORD_PREFIX = K.package("");

const SNAPSHOT_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]+$/;

/** Ids sort by creation time as plain strings: 2026-11-26T03-40-00-123Z-9f3a1c. */
export function newSnapshotId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/:/g, "-").replace(".", "-")}-${randomBytes(3).toString("hex")}`;
}

export function isSnapshotId(id: string): boolean {
  return SNAPSHOT_ID.test(id);
}

/**
 * Whether a Redis key belongs to the ledger a snapshot carries: under the ledger root,
 * not a batch's event stream, not a package record, and not a BullMQ key (QUEUE_PREFIX
 * may equal the ledger root, so queue prefixes are excluded explicitly).
 */
export function isLedgerKey(key: string, queueKeyPrefixes: readonly string[]): boolean {
  if (!key.startsWith(K.root)) return false;
  if (key.startsWith(PACKAGE_RECORD_PREFIX)) return false;
  if (key.startsWith(`${K.root}batch:`) && key.endsWith(":events")) return false;
  return !queueKeyPrefixes.some((p) => key.startsWith(p));
}

/**
 * Writes a snapshot as JSON lines into `out` (a gzip stream), hashing every line but the
 * trailer. Respects backpressure so memory stays at one key plus gzip's buffers.
 */
export class SnapshotEncoder {
  private readonly hash = createHash("sha256");
  keys = 0;
  constructor(private readonly out: Writable) {}

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

// ---- S3 side ----

export interface SnapshotDeps {
  redis: Redis;
  s3: S3Client;
  config: Config;
  logger?: Logger;
}

export interface SnapshotInfo {
  id: string;
  key: string;
  size: number;
  lastModified?: string;
}

/** Snapshots in the bucket, oldest first (ids sort by time). */
export async function listSnapshots(s3: S3Client, bucket: string): Promise<SnapshotInfo[]> {
  const found: SnapshotInfo[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: objectKeys.snapshotsPrefix },
  )) {
    for (const o of page.Contents ?? []) {
      const key = o.Key ?? "";
      const id = key.slice(objectKeys.snapshotsPrefix.length).replace(/\.json\.gz$/, "");
      if (key !== objectKeys.snapshot(id) || !isSnapshotId(id)) continue;
      found.push({ id, key, size: o.Size ?? 0, lastModified: o.LastModified?.toISOString() });
    }
  }
  return found.sort((a, b) => a.id.localeCompare(b.id));
}

/** Key prefixes of BullMQ queues: the known ones plus any queue with a meta key under QUEUE_PREFIX. */
async function queueKeyPrefixes(redis: Redis, queuePrefix: string): Promise<string[]> {
  const names = new Set<string>([...Object.values(QUEUES), MAINTENANCE_QUEUE]);
  for await (const keys of redis.scanStream({ match: `${queuePrefix}:*:meta`, count: 1000 })) {
    for (const key of keys as string[]) {
      const name = key.slice(queuePrefix.length + 1, -":meta".length);
      if (name && !name.includes(":")) names.add(name);
    }
  }
  return [...names].map((n) => `${queuePrefix}:${n}:`);
}

/** How many ledger keys Redis holds (restore refuses to write over them without force). */
export async function countLedgerKeys(redis: Redis, queuePrefix: string): Promise<number> {
  const excluded = await queueKeyPrefixes(redis, queuePrefix);
  let n = 0;
  for await (const keys of redis.scanStream({ match: `${K.root}*`, count: 1000 })) {
    for (const key of keys as string[]) if (isLedgerKey(key, excluded)) n++;
  }
  return n;
}

/** Reads one key with the command for its type; undefined when it vanished or is a stream. */
async function readKey(redis: Redis, key: string, type: string, pttl: number): Promise<SnapshotEntry | undefined> {
  const x = pttl > 0 ? Date.now() + pttl : undefined;
  const base = { k: key, ...(x ? { x } : {}) };
  switch (type) {
    case "string": {
      const v = await redis.get(key);
      return v === null ? undefined : { ...base, t: "string", v };
    }
    case "hash": {
      const v = await redis.hgetall(key);
      return Object.keys(v).length === 0 ? undefined : { ...base, t: "hash", v };
    }
    case "list": {
      const v = await redis.lrange(key, 0, -1);
      return v.length === 0 ? undefined : { ...base, t: "list", v };
    }
    case "set": {
      const v = (await redis.smembers(key)).sort();
      return v.length === 0 ? undefined : { ...base, t: "set", v };
    }
    case "zset": {
      const flat = await redis.zrange(key, 0, -1, "WITHSCORES");
      const v: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) v.push([flat[i] as string, flat[i + 1] as string]);
      return v.length === 0 ? undefined : { ...base, t: "zset", v };
    }
    default:
      return undefined; // "none" (deleted since SCAN) or "stream"
  }
}

/**
 * Writes the ledger to S3 as one gzip object and applies retention. Not a point-in-time
 * copy (keys are read one by one while the system runs); restore repairs what that can
 * skew: batch counters are recomputed and unfinished jobs re-queued.
 */
export async function createSnapshot(
  deps: SnapshotDeps,
  opts: { retention?: number; now?: Date } = {},
): Promise<SnapshotInfo & { keys: number; sha256: string; deleted: string[] }> {
  const { redis, s3, config } = deps;
  const retention = opts.retention ?? loadSnapshotSettings().SNAPSHOT_RETENTION;
  const now = opts.now ?? new Date();
  const id = newSnapshotId(now);
  const key = objectKeys.snapshot(id);
  const bucket = config.S3_BUCKET;
  const excluded = await queueKeyPrefixes(redis, config.QUEUE_PREFIX);

  const gzip = createGzip();
  const counted = { bytes: 0 };
  gzip.on("data", (c: Buffer) => {
    counted.bytes += c.length;
  });
  const upload = putStream(s3, {
    bucket,
    key,
    body: gzip,
    contentType: "application/gzip",
    metadata: { format: SNAPSHOT_FORMAT, id },
  });
  // Surfaces as the upload's error if writing fails first; never an unhandled rejection.
  upload.catch(() => {});
  const encoder = new SnapshotEncoder(gzip);
  let sum: { sha256: string; keys: number };
  try {
    await encoder.header({
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      id,
      createdAt: now.toISOString(),
      root: K.root,
    });
    for await (const page of redis.scanStream({ match: `${K.root}*`, count: 500 })) {
      const keys = (page as string[]).filter((k) => isLedgerKey(k, excluded));
      if (keys.length === 0) continue;
      const pipe = redis.pipeline();
      for (const k of keys) pipe.type(k).pttl(k);
      const meta = (await pipe.exec()) ?? [];
      for (let i = 0; i < keys.length; i++) {
        const entry = await readKey(redis, keys[i] as string, meta[2 * i]?.[1] as string, Number(meta[2 * i + 1]?.[1]));
        if (entry) await encoder.entry(entry);
      }
    }
    sum = await encoder.finish();
  } catch (err) {
    gzip.destroy(err as Error);
    await upload.catch(() => {});
    throw err;
  }
  await upload;
  // The checksum is known only after streaming; a self-copy puts it in the metadata too.
  await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: key,
      CopySource: `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}`,
      MetadataDirective: "REPLACE",
      ContentType: "application/gzip",
      Metadata: { format: SNAPSHOT_FORMAT, id, sha256: sum.sha256, keys: String(sum.keys) },
    }),
  );
  const deleted = await applyRetention(s3, bucket, retention);
  deps.logger?.info({ id, keys: sum.keys, bytes: counted.bytes, deleted }, "ledger snapshot written");
  return { id, key, size: counted.bytes, keys: sum.keys, sha256: sum.sha256, deleted };
}

/** Deletes all but the newest `keep` snapshots; returns the deleted ids. */
export async function applyRetention(s3: S3Client, bucket: string, keep: number): Promise<string[]> {
  const all = await listSnapshots(s3, bucket);
  const old = all.slice(0, Math.max(0, all.length - Math.max(1, keep)));
  for (const s of old) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: s.key }));
  return old.map((s) => s.id);
}

/** Resolves "latest" (or undefined) to the newest snapshot id. */
export async function resolveSnapshotId(s3: S3Client, bucket: string, id?: string): Promise<string> {
  if (id && id !== "latest") {
    if (!isSnapshotId(id)) throw new SnapshotError(`"${id}" is not a snapshot id (see: mediaq snapshot list)`);
    return id;
  }
  const all = await listSnapshots(s3, bucket);
  const last = all.at(-1);
  if (!last)
    throw new SnapshotError(
      `no snapshots under s3://${bucket}/${objectKeys.snapshotsPrefix}; to rebuild results from outputs run: mediaq reindex`,
    );
  return last.id;
}

export interface RestoreReport {
  id: string;
  keys: number;
  sha256: string;
  batches: number;
  /** Unfinished job keys queued again in BullMQ. */
  requeued: number;
  /** Of those, how many were running at snapshot time (set back to pending). */
  wasRunning: number;
  /** Job keys whose result existed but whose state lagged behind (set to succeeded). */
  completed: number;
  /** Unfinished job keys no batch item points at (left as they are). */
  orphaned: number;
  /** Batches whose counters were recomputed because they disagreed with item states. */
  countsRepaired: number;
}

/**
 * Loads a snapshot into a Redis whose ledger is empty (or over it with force), after
 * verifying its checksum in a first streaming pass; then makes unfinished work runnable
 * again: running job keys go back to pending and every unfinished job key some batch
 * waits on is queued in BullMQ.
 */
export async function restoreSnapshot(
  deps: SnapshotDeps,
  opts: { id?: string; force?: boolean } = {},
): Promise<RestoreReport> {
  const { redis, s3, config } = deps;
  const bucket = config.S3_BUCKET;
  const id = await resolveSnapshotId(s3, bucket, opts.id);
  const key = objectKeys.snapshot(id);
  const head = await headObject(s3, bucket, key);
  if (!head) throw new SnapshotError(`snapshot ${id} not found at s3://${bucket}/${key} (see: mediaq snapshot list)`);

  if (!opts.force) {
    const existing = await countLedgerKeys(redis, config.QUEUE_PREFIX);
    if (existing > 0)
      throw new SnapshotError(
        `Redis already holds ${existing} mediaq ledger key${existing === 1 ? "" : "s"}; restore writes only into an empty ledger. ` +
          "Point REDIS_URL at an empty Redis, or pass --force to write the snapshot's keys over the existing ones.",
      );
  }

  const label = `snapshot ${id}`;
  const verified = await readSnapshot(await getObjectStream(s3, bucket, key), undefined, label);
  const recorded = head.Metadata?.sha256;
  if (recorded && recorded !== verified.sha256)
    throw new SnapshotError(
      `${label} is corrupt: checksum ${verified.sha256} differs from the object metadata ${recorded}; nothing was restored`,
    );

  // Second pass: write. DEL first, so a key SCAN returned twice is written once.
  const unfinished = new Map<string, ItemState>();
  const batchIds: string[] = [];
  const jobKeyPattern = new RegExp(`^${K.root}job:([0-9a-f]{64})$`);
  let pipe = redis.pipeline();
  let queued = 0;
  const flush = async () => {
    if (queued === 0) return;
    const replies = (await pipe.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    pipe = redis.pipeline();
    queued = 0;
  };
  const CHUNK = 1000;
  const now = Date.now();
  await readSnapshot(
    await getObjectStream(s3, bucket, key),
    async (e) => {
      if (!e.k.startsWith(K.root) || e.k.startsWith(PACKAGE_RECORD_PREFIX)) return;
      if (e.x !== undefined && e.x <= now) return; // expired since the snapshot
      pipe.del(e.k);
      switch (e.t) {
        case "string":
          pipe.set(e.k, e.v);
          break;
        case "hash":
          pipe.hset(e.k, e.v);
          break;
        case "list":
          for (let i = 0; i < e.v.length; i += CHUNK) pipe.rpush(e.k, ...e.v.slice(i, i + CHUNK));
          break;
        case "set":
          for (let i = 0; i < e.v.length; i += CHUNK) pipe.sadd(e.k, ...e.v.slice(i, i + CHUNK));
          break;
        case "zset":
          for (let i = 0; i < e.v.length; i += CHUNK)
            pipe.zadd(e.k, ...e.v.slice(i, i + CHUNK).flatMap(([member, s]) => [s, member]));
          break;
      }
      if (e.x !== undefined) pipe.pexpireat(e.k, e.x);
      queued += 2 + Math.ceil((Array.isArray(e.v) ? e.v.length : 1) / CHUNK);
      if (queued >= 500) await flush();
      // Remember what the follow-up needs: unfinished job keys and batch records.
      const jobKey = jobKeyPattern.exec(e.k)?.[1];
      if (jobKey && e.t === "hash" && (e.v.state === "pending" || e.v.state === "running"))
        unfinished.set(jobKey, e.v.state);
      if (e.t === "hash" && e.k.startsWith(`${K.root}batch:`) && e.v.json) {
        const batch = JSON.parse(e.v.json) as BatchRecord;
        if (e.k === K.batch(batch.id)) batchIds.push(batch.id);
      }
    },
    label,
  );
  await flush();

  const follow = await resumeUnfinished(deps, unfinished, batchIds);
  deps.logger?.info({ id, keys: verified.keys, ...follow }, "ledger snapshot restored");
  return { id, keys: verified.keys, sha256: verified.sha256, batches: batchIds.length, ...follow };
}

/** After a restore: settles job states, queues unfinished work, recomputes batch counters. */
async function resumeUnfinished(
  deps: SnapshotDeps,
  unfinished: Map<string, ItemState>,
  batchIds: string[],
): Promise<Omit<RestoreReport, "id" | "keys" | "sha256" | "batches">> {
  const { redis, config } = deps;
  const ledger = new Ledger(redis);
  let completed = 0;
  let wasRunning = 0;
  // A result written just before its state moved (crash between the two) wins.
  const candidates = [...unfinished.keys()];
  for (let i = 0; i < candidates.length; i += 1000) {
    const slice = candidates.slice(i, i + 1000);
    const pipe = redis.pipeline();
    for (const k of slice) pipe.exists(K.result(k));
    const replies = (await pipe.exec()) ?? [];
    for (let j = 0; j < slice.length; j++) {
      const jobKey = slice[j] as string;
      if (Number(replies[j]?.[1]) === 1) {
        await ledger.transition(jobKey, "succeeded");
        unfinished.delete(jobKey);
        completed++;
      } else if (unfinished.get(jobKey) === "running") {
        await ledger.transition(jobKey, "pending");
        wasRunning++;
      }
    }
  }

  const queue = createInferenceQueue(redis, config);
  let requeued = 0;
  let countsRepaired = 0;
  try {
    for (const batchId of batchIds) {
      const batch = await ledger.getBatch(batchId);
      if (!batch) continue;
      const counts = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Counts;
      const total = await ledger.total(batchId);
      for (let start = 0; start < total; start += 1000) {
        const items: BatchItem[] = await ledger.items(batchId, start, 1000);
        const jobs: InferenceJob[] = [];
        const pipe = redis.pipeline();
        for (const item of items) pipe.hget(K.job(item.jobKey), "state").exists(K.result(item.jobKey));
        const replies = (await pipe.exec()) ?? [];
        items.forEach((item, i) => {
          const state =
            Number(replies[2 * i + 1]?.[1]) === 1
              ? "succeeded"
              : ((replies[2 * i]?.[1] as ItemState | null) ?? "pending");
          counts[state]++;
          if (!unfinished.has(item.jobKey)) return;
          unfinished.delete(item.jobKey); // queued once, whichever batch names it first
          jobs.push({
            jobKey: item.jobKey,
            tenant: batch.tenant,
            model: { sha256: batch.model, adapter: batch.adapter },
            inputs: item.inputs,
            params: item.params,
          });
        });
        if (jobs.length > 0) await enqueueInference(queue, jobs);
        requeued += jobs.length;
      }
      const stored = await ledger.counts(batchId);
      if (ITEM_STATES.some((s) => stored[s] !== counts[s])) {
        await redis.hset(K.batchCounts(batchId), counts);
        countsRepaired++;
      }
    }
  } finally {
    await queue.close();
  }
  return { requeued, wasRunning, completed, orphaned: unfinished.size, countsRepaired };
}

// ---- reindex from output metadata ----

/** Metadata keys the worker puts on each output object (S3 lowercases them). */
export const OUTPUT_METADATA_KEYS = [
  "jobkey",
  "sha256",
  "video",
  "audio",
  "model",
  "adapter",
  "params",
  "pipeline",
] as const;

export interface ReindexReport {
  /** Objects listed under outputs/. */
  objects: number;
  /** Results written to the index. */
  indexed: number;
  /** Results the index already had with the same output hash. */
  known: number;
  /** Objects without (valid) worker metadata, e.g. partial or foreign files. */
  skipped: { key: string; reason: string }[];
}

/**
 * Rebuilds the result index from the metadata of output objects in S3, without needing
 * batches: afterwards any batch re-submitted finds its finished items succeeded.
 */
export async function reindexOutputs(deps: SnapshotDeps, opts: { concurrency?: number } = {}): Promise<ReindexReport> {
  const { redis, s3, config } = deps;
  const bucket = config.S3_BUCKET;
  const ledger = new Ledger(redis);
  const report: ReindexReport = { objects: 0, indexed: 0, known: 0, skipped: [] };
  const concurrency = Math.max(1, opts.concurrency ?? 16);

  const one = async (key: string) => {
    const head = await headObject(s3, bucket, key);
    if (!head) return; // deleted since listing
    const m = head.Metadata ?? {};
    const jobKey = key.slice(objectKeys.outputsPrefix.length).split("/")[0] ?? "";
    const skip = (reason: string) => report.skipped.push({ key, reason });
    if (!m.jobkey) return skip("no jobkey metadata");
    if (m.jobkey !== jobKey) return skip(`jobkey metadata ${m.jobkey} does not match the object key`);
    if (!m.sha256 || !SHA256_HEX.test(m.sha256)) return skip("no valid sha256 metadata");
    const inputs = inputsSchema.safeParse({ video: m.video, audio: m.audio });
    if (!inputs.success) return skip("no valid video/audio metadata");
    if (!m.model || !m.adapter) return skip("no model/adapter metadata");
    let params: Record<string, unknown> = {};
    try {
      params = m.params ? (JSON.parse(m.params) as Record<string, unknown>) : {};
    } catch {
      return skip("params metadata is not JSON");
    }
    const existing = await ledger.getResult(jobKey);
    if (existing?.sha256 === m.sha256) {
      report.known++;
      return;
    }
    await ledger.recordResult({
      jobKey,
      key,
      sha256: m.sha256,
      size: head.ContentLength ?? 0,
      model: m.model,
      adapter: m.adapter,
      inputs: inputs.data,
      params,
      completedAt: (m.completedat ?? head.LastModified?.toISOString() ?? new Date().toISOString()) as string,
    });
    report.indexed++;
  };

  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: objectKeys.outputsPrefix },
  )) {
    const keys = (page.Contents ?? []).map((o) => o.Key as string).filter(Boolean);
    report.objects += keys.length;
    // Bounded concurrency: `concurrency` HEADs in flight, one page at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
        while (next < keys.length) await one(keys[next++] as string);
      }),
    );
  }
  deps.logger?.info({ ...report, skipped: report.skipped.length }, "result index rebuilt from outputs");
  return report;
}

// ---- scheduled snapshots ----

const SNAPSHOT_SCHEDULER_ID = "ledger-snapshot";

/**
 * Registers (or, with SNAPSHOT_EVERY_SECONDS=0, removes) the periodic snapshot job on the
 * maintenance queue. Safe to call from every replica: the scheduler id is fixed.
 */
export async function scheduleSnapshots(
  connection: ConnectionOptions,
  config: Pick<Config, "QUEUE_PREFIX">,
  settings: SnapshotSettings = loadSnapshotSettings(),
): Promise<{ enabled: boolean }> {
  const queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  try {
    if (settings.SNAPSHOT_EVERY_SECONDS === 0) {
      await queue.removeJobScheduler(SNAPSHOT_SCHEDULER_ID);
      return { enabled: false };
    }
    await queue.upsertJobScheduler(
      SNAPSHOT_SCHEDULER_ID,
      { every: settings.SNAPSHOT_EVERY_SECONDS * 1000 },
      {
        name: "snapshot",
        data: {},
        opts: { attempts: 3, backoff: { type: "exponential", delay: 10_000 }, removeOnComplete: 50, removeOnFail: 50 },
      },
    );
    return { enabled: true };
  } finally {
    await queue.close();
  }
}

/** The registered snapshot schedule, if any (for status output and tests). */
export async function getSnapshotSchedule(
  connection: ConnectionOptions,
  config: Pick<Config, "QUEUE_PREFIX">,
): Promise<{ everyMs: number; next?: number } | undefined> {
  const queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  try {
    const s = await queue.getJobScheduler(SNAPSHOT_SCHEDULER_ID);
    return s ? { everyMs: Number(s.every), next: s.next } : undefined;
  } finally {
    await queue.close();
  }
}

/** Processes scheduled snapshots (one at a time across all replicas running this). */
export function startSnapshotWorker(
  connection: ConnectionOptions,
  deps: SnapshotDeps,
  settings: SnapshotSettings = loadSnapshotSettings(),
): Worker {
  return new Worker(
    MAINTENANCE_QUEUE,
    async (job) => {
      if (job.name !== "snapshot") return undefined;
      const made = await createSnapshot(deps, { retention: settings.SNAPSHOT_RETENTION });
      return { id: made.id, keys: made.keys, sha256: made.sha256 };
    },
    { connection, prefix: deps.config.QUEUE_PREFIX, concurrency: 1 },
  );
}
