import { Queue, type ConnectionOptions } from "bullmq";
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
