import type { InferenceJob } from "@mediaq/shared";
import type { PreparedItem, Span, Stages } from "../pipeline.ts";
import type { ProcessorDeps } from "../processor.ts";

/**
 * What a frame costs on this worker, measured: the planner sizes a long item's segments by
 * it (docs/architecture.md#segments).
 */

/** Seconds: per output frame (the frame path's wall time over its frames), and per job besides (fetch, probe, mel, upload...). */
export interface FrameCost {
  perFrame: number;
  fixed: number;
}

/** Runs shorter than this say more about the frame path's start-up than about a frame. */
const MIN_FRAMES = 500;
/** Weight of the newest run in the moving average. */
const ALPHA = 0.3;

/** This process's measured costs, by model and frame size (a frame's cost depends on both). */
export class FrameCosts {
  private readonly byKey = new Map<string, FrameCost>();

  static key(model: string, video: { width: number; height: number }): string {
    return `${model}:${video.width}x${video.height}`;
  }

  /** A finished job or segment: `frames` output frames in `frameSeconds`, plus `fixedSeconds` of the rest. */
  observe(key: string, o: { frames: number; frameSeconds: number; fixedSeconds: number }): void {
    if (o.frames < MIN_FRAMES || !(o.frameSeconds > 0)) return;
    const run = { perFrame: o.frameSeconds / o.frames, fixed: Math.max(0, o.fixedSeconds) };
    const old = this.byKey.get(key);
    this.byKey.set(
      key,
      old
        ? {
            perFrame: old.perFrame + ALPHA * (run.perFrame - old.perFrame),
            fixed: old.fixed + ALPHA * (run.fixed - old.fixed),
          }
        : run,
    );
  }

  estimate(key: string): FrameCost | undefined {
    return this.byKey.get(key);
  }
}

/**
 * Records what a finished job or segment cost: its frame path's wall time over its frames,
 * and the rest of its stages as its fixed cost.
 */
export function observeCost(
  deps: Pick<ProcessorDeps, "frameCosts">,
  data: InferenceJob,
  p: Pick<PreparedItem, "video">,
  stages: Pick<Stages, "spans">,
  frames: number,
): void {
  if (!deps.frameCosts) return;
  const seconds = ([start, end]: Span) => (end - start) / 1000;
  const infer = stages.spans.infer;
  if (!infer) return;
  const all = Object.values(stages.spans).reduce((sum, span) => sum + seconds(span), 0);
  deps.frameCosts.observe(FrameCosts.key(data.model.sha256, p.video), {
    frames,
    frameSeconds: seconds(infer),
    fixedSeconds: all - seconds(infer),
  });
}
