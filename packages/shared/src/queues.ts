import { Queue, type ConnectionOptions, type DefaultJobOptions } from "bullmq";
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

const retried = (config: QueueConfig): DefaultJobOptions => ({
  attempts: config.JOB_ATTEMPTS,
  backoff: { type: "exponential", delay: 2000 },
  ...retention,
});

/** One queue mediaq runs: its name, its jobs' options, and what its jobs are to the ledger. */
export interface QueueSpec<T = unknown> {
  name: string;
  /** Options every job of the queue gets. */
  jobOptions(config: QueueConfig): DefaultJobOptions;
  /** Run by inference worker processes: a supervisor hands a dead child's jobs back from it. */
  runByWorkers: boolean;
  /** The item (job key) whose ledger state a job settles, if any. */
  itemOf?(data: T): string;
  /**
   * Whether handing a job back makes its item pending again: an item's own job does; a
   * segment's item stays running while its other segments run on.
   */
  pendingOnHandBack: boolean;
}

/**
 * Every queue of the pipeline, in one registry (docs/architecture.md#queues): the factories
 * below, the supervisor's hand-back and the admin page all read it, so a new queue is one
 * entry here. (The notifier's webhook queue is its own: nothing else touches it.)
 */
export const queueRegistry = {
  inference: {
    name: QUEUES.inference,
    jobOptions: retried,
    runByWorkers: true,
    itemOf: (data: InferenceJob) => data.jobKey,
    pendingOnHandBack: true,
  } satisfies QueueSpec<InferenceJob>,
  /** Segments of long items, children of their item's job (docs/architecture.md#segments). */
  segment: {
    name: QUEUES.segment,
    jobOptions: retried,
    runByWorkers: true,
    itemOf: (data: SegmentJob) => data.item.jobKey,
    pendingOnHandBack: false,
  } satisfies QueueSpec<SegmentJob>,
  /** Face-track jobs, one per track key (docs/architecture.md, "Face tracks"). */
  faceTrack: {
    name: QUEUES.faceTrack,
    jobOptions: retried,
    runByWorkers: true,
    pendingOnHandBack: false,
  } satisfies QueueSpec<FaceTrackJob>,
  package: {
    name: QUEUES.package,
    jobOptions: retried,
    runByWorkers: false,
    pendingOnHandBack: false,
  } satisfies QueueSpec<PackageJob>,
} as const;

const specs: QueueSpec<never>[] = Object.values(queueRegistry);

/** The registry entry of a queue name (undefined for a queue mediaq's pipeline does not run). */
export const queueSpecOf = (name: string): QueueSpec<never> | undefined => specs.find((s) => s.name === name);

/** Opens a queue of the registry with its job options. */
export function openQueue<T>(spec: QueueSpec<T>, connection: ConnectionOptions, config: QueueConfig): Queue<T> {
  return new Queue<T>(spec.name, {
    connection,
    prefix: config.QUEUE_PREFIX,
    defaultJobOptions: spec.jobOptions(config),
  });
}

/** Every queue of the registry (the admin page shows them all). */
export const openAllQueues = (connection: ConnectionOptions, config: QueueConfig): Queue[] =>
  specs.map((s) => openQueue<unknown>(s as QueueSpec<unknown>, connection, config));

/** The queues worker processes run (a supervisor hands a dead child's jobs back from these). */
export const openWorkerQueues = (connection: ConnectionOptions, config: QueueConfig): Queue[] =>
  specs.filter((s) => s.runByWorkers).map((s) => openQueue<unknown>(s as QueueSpec<unknown>, connection, config));

export const createInferenceQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  openQueue<InferenceJob>(queueRegistry.inference, connection, config);

export const createPackageQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  openQueue<PackageJob>(queueRegistry.package, connection, config);

export const createFaceTrackQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  openQueue<FaceTrackJob>(queueRegistry.faceTrack, connection, config);

export const createSegmentQueue = (connection: ConnectionOptions, config: QueueConfig) =>
  openQueue<SegmentJob>(queueRegistry.segment, connection, config);
