import type { InferenceJob } from "@mediaq/shared";
import type { SegmentedJob } from "../adapters/adapter.ts";
import type { ProcessorDeps } from "../processor.ts";
import { estimateCost } from "./frame-cost.ts";
import { planSegments, type SegmentSpan, segmentFrames } from "./plan.ts";

/**
 * An item's segments (undefined: it runs as one job), sized by the frame cost the workers
 * measured. The first plan recorded for the item stands: its job run again elsewhere, with
 * another estimate, keeps the segments already finished (docs/architecture.md#segments).
 */
export async function planItem(
  deps: Pick<ProcessorDeps, "config" | "ledger">,
  data: InferenceJob,
  job: Pick<SegmentedJob, "frames" | "fps" | "frameSize">,
): Promise<SegmentSpan[] | undefined> {
  const recorded = await deps.ledger.segments.plannedFrames(data.jobKey);
  if (recorded !== undefined) return planSegments(job.frames, recorded);
  const cost = await estimateCost(deps, data, job.frameSize);
  const size = segmentFrames({ seconds: deps.config.SEGMENT_SECONDS, fps: job.fps, cost });
  if (!planSegments(job.frames, size)) return undefined;
  return planSegments(job.frames, await deps.ledger.segments.planFrames(data.jobKey, size));
}
