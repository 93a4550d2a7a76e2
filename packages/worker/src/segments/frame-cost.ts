/**
 * What a frame costs, measured by the workers on their jobs and segments (the ledger's
 * moving average): the planner sizes a long item's segments by it (docs/architecture.md#segments).
 */
import type { FrameCost, InferenceJob } from "@mediaq/shared";
import type { Span, Stages } from "../pipeline.ts";
import type { ProcessorDeps } from "../processor.ts";

/** Runs shorter than this say more about the frame path's start-up than about a frame. */
const MIN_FRAMES = 500;

/** A frame's cost depends on the model and on the frame's size. */
export const frameCostKey = (model: string, video: { width: number; height: number }) =>
  `${model}:${video.width}x${video.height}`;

/** The measured cost of the item's frames, if any worker measured it. */
export function estimateCost(
  deps: Pick<ProcessorDeps, "ledger">,
  data: InferenceJob,
  frameSize: { width: number; height: number },
): Promise<FrameCost | undefined> {
  return deps.ledger.frameCosts.estimate(frameCostKey(data.model.sha256, frameSize));
}

/** The stages whose time grows with the frames; the others are a job's or segment's fixed cost. */
const PER_FRAME_STAGES = ["infer", "mel", "upload"];

/**
 * Records what a finished job or segment cost: the per-frame stages' wall time over its
 * frames, and for a segment the rest of its stages as its fixed cost (an item's one job
 * downloads and decodes its whole inputs: no segment's fixed cost). A failure to record is
 * logged, never the job's.
 */
export async function observeCost(
  deps: Pick<ProcessorDeps, "ledger" | "log">,
  data: InferenceJob,
  frameSize: { width: number; height: number },
  stages: Pick<Stages, "spans">,
  o: { frames: number; segment: boolean },
): Promise<void> {
  if (!stages.spans.infer || o.frames < MIN_FRAMES) return;
  const seconds = ([start, end]: Span) => (end - start) / 1000;
  let perFrame = 0;
  let fixed = 0;
  for (const [name, span] of Object.entries(stages.spans))
    if (PER_FRAME_STAGES.includes(name)) perFrame += seconds(span);
    else fixed += seconds(span);
  await deps.ledger.frameCosts
    .observe(frameCostKey(data.model.sha256, frameSize), {
      perFrame: perFrame / o.frames,
      fixed: o.segment ? fixed : undefined,
    })
    .catch((err) => deps.log.warn({ err }, "could not record the frame cost"));
}
