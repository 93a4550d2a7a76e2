import { asError, handBackJob, judgeFailure, type Ledger, type Logger, type SegmentJob } from "@mediaq/shared";
import type { Job } from "bullmq";

export interface SegmentFailureDeps {
  ledger: Ledger;
  shutdown: AbortSignal;
  /** Deletes and forgets the item's pieces (dropSegmentPieces). */
  dropPieces(jobKey: string): Promise<void>;
}

/**
 * A segment's failure (failure-policy.ts): handed back (its item stays running), retried,
 * or final, which is its item's failure: the item's job fails with its child
 * (failParentOnFailure), the ledger gets the reason here, and the pieces go
 * (docs/architecture.md#segments).
 */
export async function settleSegmentFailure(
  deps: SegmentFailureDeps,
  job: Job<SegmentJob>,
  token: string | undefined,
  jobKey: string,
  err: unknown,
  log: Logger,
): Promise<Error> {
  const error = asError(err);
  const verdict = judgeFailure(job, err, { shuttingDown: deps.shutdown.aborted });
  if (verdict === "hand-back") {
    log.warn("handed the segment back to the queue");
    return handBackJob(job, token);
  }
  if (verdict === "final") {
    await deps.ledger.jobs.transition(jobKey, "failed", error.message);
    await deps.dropPieces(jobKey);
  }
  log.error({ err }, verdict === "final" ? "segment failed for good; the item fails" : "segment failed; will retry");
  return error;
}
