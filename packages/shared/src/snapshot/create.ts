import { createGzip } from "node:zlib";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client, paginateListObjectsV2 } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { redisKeys as K } from "../ledger/keys.ts";
import { objectKeys } from "../object-keys.ts";
import { putStream } from "../s3.ts";
import {
  isSnapshotId,
  newSnapshotId,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  SnapshotEncoder,
  type SnapshotEntry,
  SnapshotError,
} from "./format.ts";
import { isLedgerKey } from "./ledger-keys.ts";
import { loadSnapshotSettings, type SnapshotDeps } from "./settings.ts";

/** Writing snapshots to S3, listing them, and keeping only the newest few. */

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
      const keys = (page as string[]).filter(isLedgerKey);
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
