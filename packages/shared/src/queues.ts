import { Queue, type ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "./config.ts";
import type { FaceTrackJob } from "./face-track.ts";
import { type InferenceJob, type PackageJob, QUEUES, type SegmentJob } from "./jobs.ts";

type QueueConfig = Pick<Config, "QUEUE_PREFIX" | "JOB_ATTEMPTS">;

/**
 * Completed jobs are trimmed freely: the result index, not BullMQ's retention, records
 * what is done. Failed jobs stay a week so their reasons can be read and retried.
 */
const retention = {
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

function createQueue<T>(name: string, connection: ConnectionOptions, config: QueueConfig): Queue<T> {
  return new Queue<T>(name, {
    connection,
    prefix: config.QUEUE_PREFIX,
    defaultJobOptions: { attempts: config.JOB_ATTEMPTS, backoff: { type: "exponential", delay: 2000 }, ...retention },
  });
}

export const createInferenceQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  createQueue<InferenceJob>(QUEUES.inference, connection, config);

export const createPackageQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  createQueue<PackageJob>(QUEUES.package, connection, config);

/** Face-track jobs, one per track key (docs/architecture.md, "Face tracks"). */
export const createFaceTrackQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  createQueue<FaceTrackJob>(QUEUES.faceTrack, connection, config);

/** Segments of long items, children of their item's inference job (docs/architecture.md#segments). */
export const createSegmentQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  createQueue<SegmentJob>(QUEUES.segment, connection, config);

/**
 * Queues inference jobs under their job key; the ledger decided they must run. BullMQ
 * ignores an add under an id it still holds: a waiting or running job is left alone (the
 * same work never runs twice at once), and a finished one (completed or failed, kept for
 * a while) is removed first. One pipelined read tells which are finished.
 */
export async function enqueueInference(queue: Queue<InferenceJob>, jobs: InferenceJob[], redis: Redis): Promise<void> {
  const unique = [...new Map(jobs.map((j) => [j.jobKey, j])).values()];
  if (unique.length === 0) return;
  // `redis` is the connection the queue was made with (its job hashes live there).
  const pipe = redis.pipeline();
  for (const j of unique) pipe.hexists(queue.toKey(j.jobKey), "finishedOn");
  const replies = (await pipe.exec()) ?? [];
  const finished = unique.filter((_, i) => Number(replies[i]?.[1]) === 1);
  for (const j of finished) await queue.remove(j.jobKey);
  await queue.addBulk(unique.map((data) => ({ name: QUEUES.inference, data, opts: { jobId: data.jobKey } })));
}

/**
 * Takes the job of a job key no batch waits on any more out of the queue, and returns
 * whether it is gone. A long item's queued segments go first; a segment or an item a worker
 * holds is locked and stays: it finds no batch waiting, skips, and the item's job deletes its
 * pieces when it comes back (docs/architecture.md#segments).
 */
export async function withdrawJob(queue: Queue<InferenceJob>, jobKey: string): Promise<boolean> {
  const job = await queue.getJob(jobKey);
  if (!job) return true;
  await job.removeUnprocessedChildren();
  return (await queue.remove(jobKey).catch(() => 0)) === 1;
}
