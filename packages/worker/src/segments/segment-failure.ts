import type { Ledger, Logger, SegmentJob } from "@mediaq/shared";
import { type Job, UnrecoverableError, WaitingError } from "bullmq";
import { BadInputError } from "../errors.ts";

export interface SegmentFailureDeps {
  ledger: Ledger;
  shutdown: AbortSignal;
  /** Deletes and forgets the item's pieces (dropSegmentPieces). */
  dropPieces(jobKey: string): Promise<void>;
}

/** A segment's failure: handed back, retried, or (bad input, attempts spent) the item's failure. */
export async function settleSegmentFailure(
  deps: SegmentFailureDeps,
  job: Job<SegmentJob>,
  token: string | undefined,
  jobKey: string,
  err: unknown,
  log: Logger,
): Promise<Error> {
  if (deps.shutdown.aborted && !(err instanceof BadInputError)) {
    await job.moveToWait(token);
    log.warn("handed the segment back to the queue");
    return new WaitingError();
  }
  const message = err instanceof Error ? err.message : String(err);
  // The item's job fails with its child (failParentOnFailure); the ledger gets the reason here.
  if (err instanceof BadInputError) {
    await deps.ledger.jobs.transition(jobKey, "failed", message);
    await deps.dropPieces(jobKey);
    log.warn({ reason: message }, "bad input in a segment; the item fails");
    return new UnrecoverableError(message);
  }
  const exhausted = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (exhausted) {
    await deps.ledger.jobs.transition(jobKey, "failed", message);
    await deps.dropPieces(jobKey);
  }
  log.error({ err }, exhausted ? "segment failed; attempts exhausted, the item fails" : "segment failed; will retry");
  return err instanceof Error ? err : new Error(message);
}
