/** A segment: output frames [start, start + count) of an item's output timeline. */
export interface SegmentSpan {
  start: number;
  count: number;
}

/**
 * Cuts an output timeline of `frames` frames into segments of `seconds` each (the last one
 * shorter), or undefined when it fits in one: short items keep the single-job path
 * (docs/architecture.md#segments).
 */
export function planSegments(frames: number, fps: number, seconds: number): SegmentSpan[] | undefined {
  const size = Math.max(1, Math.round(seconds * fps));
  if (frames <= size) return undefined;
  const spans: SegmentSpan[] = [];
  for (let start = 0; start < frames; start += size) spans.push({ start, count: Math.min(size, frames - start) });
  return spans;
}
