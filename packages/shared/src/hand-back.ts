import { type Queue, UnrecoverableError } from "bullmq";
import { lockKeyOf } from "./failure-policy.ts";
import type { Ledger } from "./ledger/index.ts";
import { queueSpecOf } from "./queues.ts";

export interface HandedBack {
  queue: string;
  jobId: string;
  /** Back in the queue, or failed because its workers died `maxDeaths` times. */
  outcome: "waiting" | "failed";
}

/** The reason an item fails with when its workers keep dying (supervised or not). */
export const workerDeathsReason = (deaths: number) =>
  `the worker process died while running this item ${deaths} time(s) ` +
  "(killed, out of memory, or crashed in native code); not retried again";

/**
 * A job's deaths: BullMQ's stalledCounter (unsupervised deaths) plus the hand-backs a
 * supervisor counted in the job's data (`deaths`); each death is counted once.
 */
export const deathsOf = (job: { stalledCounter: number; data: unknown }) =>
  job.stalledCounter + ((job.data as { deaths?: number }).deaths ?? 0);

/**
 * Hands the jobs a dead worker process held back to their queues now, rather than after its
 * lock expires and a stalled check finds them (docs/architecture.md#worker-deaths). The owner
 * is BullMQ's own record: the worker's `name`, stored on each job it takes (processedBy).
 * What a job is to the ledger comes from the queue registry (queues.ts).
 *
 * Only jobs whose lock still holds the dead worker's token are handed back. BullMQ's
 * moveJobFromActiveToWait script checks that token and clears the lock; only then does an
 * item go back to pending, and not if another worker took the job meanwhile (ledger
 * handBack). As with the worker's own hand-back on shutdown, no attempt is spent. Deaths are
 * still counted, so a job that kills its worker `maxDeaths` times fails with a reason
 * instead of looping; a long item's segment fails its item and drops its pieces
 * (`dropPieces`). A lock that expired already is left to the stalled check.
 */
export async function handBackJobsOf(
  workerName: string,
  queues: Queue[],
  ledger: Ledger,
  maxDeaths: number,
  o: { dropPieces?(jobKey: string): Promise<void> } = {},
): Promise<HandedBack[]> {
  const handed: HandedBack[] = [];
  for (const queue of queues) {
    const spec = queueSpecOf(queue.name);
    const client = await queue.getBackend().client;
    const held = (await queue.getActive()).filter((job) => job.processedBy === workerName);
    for (const job of held) {
      const token = await client.get(lockKeyOf(job));
      if (!token) continue;
      const handBacks = ((job.data as { deaths?: number }).deaths ?? 0) + 1;
      const deaths = job.stalledCounter + handBacks;
      const itemKey = spec?.itemOf?.(job.data as never);
      if (deaths >= maxDeaths) {
        const reason = workerDeathsReason(deaths);
        await job.moveToFailed(new UnrecoverableError(reason), token, false);
        if (itemKey && !spec?.pendingOnHandBack) {
          if (await ledger.jobs.failForSegment(itemKey, reason)) await o.dropPieces?.(itemKey);
        } else if (itemKey) await ledger.jobs.transition(itemKey, "failed", reason);
        handed.push({ queue: queue.name, jobId: job.id as string, outcome: "failed" });
        continue;
      }
      await job.updateData({ ...(job.data as object), deaths: handBacks });
      await job.moveToWait(token);
      if (itemKey && spec?.pendingOnHandBack) await ledger.jobs.handBack(itemKey, lockKeyOf(job));
      handed.push({ queue: queue.name, jobId: job.id as string, outcome: "waiting" });
    }
  }
  return handed;
}

/** One line per job for logs: queue/id, and whether it failed. */
export const describeHandedBack = (h: HandedBack) =>
  `${h.queue}/${h.jobId}${h.outcome === "failed" ? " (failed: died too often)" : ""}`;
