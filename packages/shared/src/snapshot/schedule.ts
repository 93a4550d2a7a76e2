import { type ConnectionOptions, Queue, Worker } from "bullmq";
import type { Config } from "../config.ts";
import { createSnapshot } from "./create.ts";
import { loadSnapshotSettings, MAINTENANCE_QUEUE, type SnapshotDeps, type SnapshotSettings } from "./settings.ts";

/** Periodic snapshots: a BullMQ job scheduler on the maintenance queue and its worker. */

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
