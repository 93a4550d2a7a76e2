import {
  type InferenceJob,
  type Logger,
  QUEUES,
  runAgain,
  type SegmentPiece,
  segmentJobId,
  segmentRange,
} from "@mediaq/shared";
import { type Job, WaitingChildrenError } from "bullmq";
import type { SegmentedJob } from "../adapters/adapter.ts";
import type { ProcessorDeps } from "../processor.ts";
import type { SegmentSpan } from "./plan.ts";

/**
 * A long item's segments, once all are finished. Until then queues the missing ones as
 * children of the item's job (BullMQ's "process step jobs" with dynamic children) and
 * moves the item's job to waiting-children by throwing WaitingChildrenError; BullMQ runs
 * the job again when the last child completed, and a child that fails for good fails it
 * (failParentOnFailure). Finished segments are read from the ledger, never run again. Each
 * segment is handed the item's probe, so it probes nothing (docs/architecture.md#segments).
 */
export async function awaitSegments(
  deps: Pick<ProcessorDeps, "ledger" | "segmentQueue">,
  job: Job<InferenceJob>,
  token: string | undefined,
  data: InferenceJob,
  segmented: Pick<SegmentedJob, "frames" | "probe">,
  plan: SegmentSpan[],
  log: Logger,
): Promise<SegmentPiece[]> {
  const missing = async () => {
    const done = await deps.ledger.segments.pieces(data.jobKey);
    return { done, missing: plan.filter((s) => !done.has(segmentRange(s))) };
  };
  let state = await missing();
  if (state.missing.length > 0) {
    await deps.ledger.segments.markSegmented(data.jobKey);
    const probe = await segmented.probe();
    const total = segmented.frames;
    // A finished job under a missing segment's id (the item is retried after a failure, or
    // the ledger lost the piece) would make BullMQ drop the add. A failed one runs again as
    // BullMQ's retry does, which also takes it out of this job's failed children (else
    // moveToWaitingChildren refuses); a completed one is removed and added again.
    for (const s of state.missing) {
      const old = await deps.segmentQueue.getJob(segmentJobId(data.jobKey, s));
      const oldState = old ? await old.getState() : undefined;
      if (old && oldState === "failed") await runAgain(old);
      if (old && oldState === "completed") await old.remove();
    }
    await deps.segmentQueue.addBulk(
      state.missing.map((s) => ({
        name: QUEUES.segment,
        data: { item: data, start: s.start, count: s.count, total, probe },
        opts: {
          jobId: segmentJobId(data.jobKey, s),
          parent: { id: job.id as string, queue: job.queueQualifiedName },
          failParentOnFailure: true,
        },
      })),
    );
    log.info({ segments: plan.length, queued: state.missing.length }, "queued the item's segments");
    if (await job.moveToWaitingChildren(token as string)) throw new WaitingChildrenError();
    // Every child had finished already.
    state = await missing();
    if (state.missing.length > 0)
      throw new Error(`segments ${state.missing.map(segmentRange).join(", ")} finished without a recorded piece`);
  }
  return plan.map((s) => state.done.get(segmentRange(s)) as SegmentPiece);
}
