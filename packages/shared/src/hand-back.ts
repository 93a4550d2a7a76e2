import type { Job, Queue } from "bullmq";
import { QUEUES } from "./jobs.ts";
import type { Ledger } from "./ledger/index.ts";

export interface HandedBack {
  queue: string;
  jobId: string;
}

/**
 * Hands the jobs a dead worker process held back to their queues now, rather than after its
 * lock expires and a stalled check finds them (docs/architecture.md#worker-deaths). The owner
 * is BullMQ's own record: the worker's `name`, stored on each job it takes (processedBy).
 *
 * Only jobs whose lock still holds the dead worker's token are handed back: while that lock
 * lives no other worker can have the job, so the ledger may go back to pending; BullMQ's
 * moveJobFromActiveToWait script checks the token again and clears the lock. Like the
 * worker's own hand-back on shutdown, no attempt is spent and the stalled counter is
 * untouched. A lock that expired already is left to the stalled check.
 */
export async function handBackJobsOf(workerName: string, queues: Queue[], ledger: Ledger): Promise<HandedBack[]> {
  const handed: HandedBack[] = [];
  for (const queue of queues) {
    const client = await queue.getBackend().client;
    const held = (await queue.getActive()).filter((job) => job.processedBy === workerName);
    for (const job of held) {
      const token = await client.get(`${queue.toKey(job.id as string)}:lock`);
      if (!token) continue;
      await settleHandedBack(queue.name, job, ledger);
      await job.moveToWait(token);
      handed.push({ queue: queue.name, jobId: job.id as string });
    }
  }
  return handed;
}

/** The ledger side of a hand-back, as the worker's settleFailure does it: the item is pending again. */
async function settleHandedBack(queueName: string, job: Job, ledger: Ledger): Promise<void> {
  const jobKey = (job.data as { jobKey?: unknown }).jobKey;
  if (queueName === QUEUES.inference && typeof jobKey === "string") await ledger.jobs.transition(jobKey, "pending");
}
