import { type Queue, UnrecoverableError } from "bullmq";
import { QUEUES } from "./jobs.ts";
import type { Ledger } from "./ledger/index.ts";

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
 * Hands the jobs a dead worker process held back to their queues now, rather than after its
 * lock expires and a stalled check finds them (docs/architecture.md#worker-deaths). The owner
 * is BullMQ's own record: the worker's `name`, stored on each job it takes (processedBy).
 *
 * Only jobs whose lock still holds the dead worker's token are handed back: while that lock
 * lives no other worker can have the job, so the ledger may go back to pending; BullMQ's
 * moveJobFromActiveToWait script checks the token again and clears the lock. As with the
 * worker's own hand-back on shutdown, no attempt is spent. Deaths are still counted (in the
 * job's data, with BullMQ's stalledCounter for unsupervised ones), so a job that kills its
 * worker `maxDeaths` times fails with a reason instead of looping. A lock that expired
 * already is left to the stalled check.
 */
export async function handBackJobsOf(
  workerName: string,
  queues: Queue[],
  ledger: Ledger,
  maxDeaths: number,
): Promise<HandedBack[]> {
  const handed: HandedBack[] = [];
  for (const queue of queues) {
    const client = await queue.getBackend().client;
    const held = (await queue.getActive()).filter((job) => job.processedBy === workerName);
    for (const job of held) {
      const token = await client.get(`${queue.toKey(job.id as string)}:lock`);
      if (!token) continue;
      const deaths = job.stalledCounter + ((job.data as { deaths?: number }).deaths ?? 0) + 1;
      const jobKey = queue.name === QUEUES.inference ? (job.data as { jobKey: string }).jobKey : undefined;
      // A long item's segment: its item fails with it, but stays running while it waits
      // (its other segments run on) (docs/architecture.md#segments).
      const itemKey = queue.name === QUEUES.segment ? (job.data as { item: { jobKey: string } }).item.jobKey : jobKey;
      if (deaths >= maxDeaths) {
        const reason = workerDeathsReason(deaths);
        if (itemKey) await ledger.jobs.transition(itemKey, "failed", reason);
        await job.moveToFailed(new UnrecoverableError(reason), token, false);
        handed.push({ queue: queue.name, jobId: job.id as string, outcome: "failed" });
        continue;
      }
      await job.updateData({ ...(job.data as object), deaths });
      // Pending first, then the queue, as the worker's settleFailure hands back.
      if (jobKey) await ledger.jobs.transition(jobKey, "pending");
      await job.moveToWait(token);
      handed.push({ queue: queue.name, jobId: job.id as string, outcome: "waiting" });
    }
  }
  return handed;
}

/** One line per job for logs: queue/id, and whether it failed. */
export const describeHandedBack = (h: HandedBack) =>
  `${h.queue}/${h.jobId}${h.outcome === "failed" ? " (failed: died too often)" : ""}`;
