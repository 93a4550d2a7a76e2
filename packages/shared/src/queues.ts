import { Queue, type ConnectionOptions } from "bullmq";
import type { Config } from "./config.ts";
import type { FaceTrackJob } from "./face-track.ts";
import { type InferenceJob, type PackageJob, QUEUES } from "./jobs.ts";

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

/**
 * Queues inference jobs under their job key. A job key BullMQ still holds as failed is
 * retried, one it holds as completed (the ledger says otherwise) is replaced; one that
 * waits or runs is left alone, so the same work never runs twice at once.
 */
export async function enqueueInference(queue: Queue<InferenceJob>, jobs: InferenceJob[]): Promise<void> {
  const fresh: InferenceJob[] = [];
  for (const data of jobs) {
    const existing = await queue.getJob(data.jobKey);
    if (!existing) {
      fresh.push(data);
      continue;
    }
    const state = await existing.getState();
    if (state === "failed") await existing.retry("failed");
    else if (state === "completed") {
      await existing.remove();
      fresh.push(data);
    }
  }
  if (fresh.length > 0)
    await queue.addBulk(fresh.map((data) => ({ name: QUEUES.inference, data, opts: { jobId: data.jobKey } })));
}
