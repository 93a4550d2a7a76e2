import type { FrameCost } from "@mediaq/shared";

/** A segment: output frames [start, start + count) of an item's output timeline. */
export interface SegmentSpan {
  start: number;
  count: number;
}

/** A segment's fixed cost stays at most this share of it (bigger segments for cheap frames). */
export const MAX_FIXED_SHARE = 0.05;

/**
 * Frames per segment, by cost: `seconds` of work at the measured cost per frame, and never so
 * few that the segment's fixed cost is more than MAX_FIXED_SHARE of it. Without a measured
 * cost a frame is taken to cost its own duration (real time). A crash loses at most one
 * segment: `seconds` of work, or more where the fixed cost needs longer segments
 * (docs/architecture.md#segments).
 */
export function segmentFrames(o: { seconds: number; fps: number; cost?: FrameCost }): number {
  if (!o.cost) return Math.max(1, Math.round(o.seconds * o.fps));
  const { perFrame, fixed } = o.cost;
  return Math.max(1, Math.round(Math.max(o.seconds, fixed / MAX_FIXED_SHARE) / perFrame));
}

/**
 * Cuts an output timeline of `frames` frames into segments of `size` frames (the last one
 * shorter), or undefined when it fits in one: short items keep the single-job path
 * (docs/architecture.md#segments).
 */
export function planSegments(frames: number, size: number): SegmentSpan[] | undefined {
  size = Math.max(1, Math.round(size));
  if (frames <= size) return undefined;
  const spans: SegmentSpan[] = [];
  for (let start = 0; start < frames; start += size) spans.push({ start, count: Math.min(size, frames - start) });
  return spans;
}
