import {
  deathsOf,
  type InferenceJob,
  type Ledger,
  type Logger,
  runAgain,
  type SegmentJob,
  workerDeathsReason,
} from "@mediaq/shared";
import type { Job } from "bullmq";

export interface QueueFailureDeps {
  ledger: Ledger;
  log: Logger;
  /** The workers' maxStalledCount: a job stalled more often than this was failed for its deaths. */
  maxStalledCount: number;
}

/**
 * BullMQ fails a job without running its processor in two cases (a deferred failure): it
 * stalled more than maxStalledCount times (its workers kept dying), or it is a long item
 * whose segment failed for good (failParentOnFailure). Nothing told the ledger in the first
 * case; in the second the segment did (segment-failure.ts), with its reason
 * (docs/architecture.md#worker-deaths).
 */
const diedTooOften = (job: Job, maxStalledCount: number) => job.stalledCounter > maxStalledCount;

/**
 * An item's job BullMQ failed itself. Its workers died too often: the running item fails
 * with that reason. A segment failed: the ledger has the reason already, unless a retry came
 * between the segment's failure and this one (the item is pending again): then the job runs
 * again, as the retry asked (docs/architecture.md#retry).
 */
export async function onItemFailedByQueue(d: QueueFailureDeps, job: Job<InferenceJob>, err: Error): Promise<void> {
  if (!job.deferredFailure) return;
  const jobKey = job.data.jobKey;
  if (diedTooOften(job, d.maxStalledCount)) {
    const reason = `${workerDeathsReason(deathsOf(job))} (BullMQ: ${err.message})`;
    d.log.error({ jobKey, stalled: job.stalledCounter }, "job failed: its worker died too often");
    await d.ledger.jobs.transition(jobKey, "failed", reason, { from: "running" });
    return;
  }
  if ((await d.ledger.jobs.state(jobKey)).state !== "pending") return;
  if (await runAgain(job)) d.log.info({ jobKey }, "retried while its failed segment was settling; runs again");
}

/** A segment BullMQ failed because it killed its worker too often fails its item (docs/architecture.md#segments). */
export async function onSegmentFailedByQueue(
  d: QueueFailureDeps & { dropPieces(jobKey: string): Promise<void> },
  job: Job<SegmentJob>,
  err: Error,
): Promise<void> {
  if (!job.deferredFailure || !diedTooOften(job, d.maxStalledCount)) return;
  const jobKey = job.data.item.jobKey;
  const reason = `${workerDeathsReason(deathsOf(job))} (BullMQ: ${err.message})`;
  d.log.error({ jobKey, stalled: job.stalledCounter }, "segment failed: its worker died too often");
  if (await d.ledger.jobs.failForSegment(jobKey, reason, { from: "running" })) await d.dropPieces(jobKey);
}
