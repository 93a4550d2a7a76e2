import {
  type BatchItem,
  type BatchRecord,
  type ItemState,
  isSnapshotKey,
  Ledger,
  redisKeys as K,
} from "../ledger/index.ts";
import { objectKeys } from "../object-keys.ts";
import { enqueueInference } from "../item-jobs.ts";
import { createInferenceQueue } from "../queues.ts";
import { inferenceJobFor } from "../submission.ts";
import { getObjectStream, headObject } from "../s3.ts";
import { resolveSnapshotId } from "./create.ts";
import { readSnapshot, SnapshotError } from "./format.ts";
import { countLedgerKeys } from "./ledger-keys.ts";
import type { SnapshotDeps } from "./settings.ts";

/** Loading a snapshot back into Redis and making its unfinished work runnable again. */

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
    const existing = await countLedgerKeys(redis);
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
      if (!isSnapshotKey(e.k)) return;
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
        await ledger.jobs.transition(jobKey, "succeeded");
        unfinished.delete(jobKey);
        completed++;
      } else if (unfinished.get(jobKey) === "running") {
        await ledger.jobs.transition(jobKey, "pending");
        wasRunning++;
      }
    }
  }

  const queue = createInferenceQueue(redis, config);
  let requeued = 0;
  let countsRepaired = 0;
  try {
    for (const batchId of batchIds) {
      const batch = await ledger.batches.get(batchId);
      if (!batch) continue;
      const total = await ledger.batches.total(batchId);
      for (let start = 0; start < total; start += 1000) {
        const items: BatchItem[] = await ledger.batches.items(batchId, start, 1000);
        const jobs = items.filter((item) => unfinished.delete(item.jobKey)).map((item) => inferenceJobFor(batch, item));
        // queued once, whichever batch names it first
        if (jobs.length > 0) await enqueueInference(queue, jobs, redis);
        requeued += jobs.length;
      }
      if (await ledger.batches.repairCounts(batchId)) countsRepaired++;
    }
  } finally {
    await queue.close();
  }
  return { requeued, wasRunning, completed, orphaned: unfinished.size, countsRepaired };
}
