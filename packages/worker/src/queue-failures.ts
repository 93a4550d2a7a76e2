import { type InferenceJob, type Ledger, type Logger, type SegmentJob, workerDeathsReason } from "@mediaq/shared";
import type { Job, Queue } from "bullmq";

export interface QueueFailureDeps {
  ledger: Ledger;
  log: Logger;
  /** The item queue, to run an item again whose retry came while BullMQ failed it. */
  queue?: Queue<InferenceJob>;
}

/** The reason for a job BullMQ failed because its workers kept dying. */
const deathsOf = (job: { stalledCounter: number; data: unknown }) =>
  job.stalledCounter + ((job.data as { deaths?: number }).deaths ?? 0);

/**
 * An item's job failed by BullMQ itself, never reaching the processor (it stalled too
 * often): nothing told the ledger, so record the failure with a reason a person can act on.
 */
export async function onItemFailedByQueue(d: QueueFailureDeps, job: Job<InferenceJob>, err: Error): Promise<void> {
  if (!job.deferredFailure) return;
  const reason = `${workerDeathsReason(deathsOf(job))} (BullMQ: ${err.message})`;
  d.log.error({ jobKey: job.id, stalled: job.stalledCounter }, "job failed: its worker died too often");
  await d.ledger.jobs.transition(job.id as string, "failed", reason);
}

/** A segment BullMQ failed because it killed its worker too often fails its item (docs/architecture.md#segments). */
export async function onSegmentFailedByQueue(
  d: QueueFailureDeps & { dropPieces(jobKey: string): Promise<void> },
  job: Job<SegmentJob>,
  err: Error,
): Promise<void> {
  if (!job.deferredFailure) return;
  const jobKey = job.data.item.jobKey;
  const reason = `${workerDeathsReason(deathsOf(job))} (BullMQ: ${err.message})`;
  d.log.error({ jobKey, stalled: job.stalledCounter }, "segment failed: its worker died too often");
  await d.ledger.jobs.transition(jobKey, "failed", reason);
  await d.dropPieces(jobKey);
}
