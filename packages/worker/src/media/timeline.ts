/**
 * The output timeline: how many frames the output has and which source frame each one shows.
 * With length=audio the clip loops until the audio ends, forward (0..n-1, 0..n-1, ...) or
 * ping-pong (0..n-1, n-2..1, 0..n-1, ...: no frame repeats at a seam, so the picture never
 * jumps further than between two neighbouring source frames). See docs/architecture.md#decoding-rotation-timeline-colour-order.
 */

export type LengthMode = "audio" | "video";
export type LoopMode = "pingpong" | "forward";

/** Output frames: the audio's duration at the video's rate, or the video's own frame count. */
export function outputFrameCount(o: { length: LengthMode; fps: number; audioSeconds: number; videoFrames: number }) {
  return o.length === "video" ? o.videoFrames : Math.max(1, Math.round(o.audioSeconds * o.fps));
}

/** The source frame (0..n-1) shown at output frame `i` of a clip of `n` frames. */
export function sourceIndex(i: number, n: number, loop: LoopMode): number {
  if (n <= 1) return 0;
  if (loop === "forward") return i % n;
  const period = 2 * n - 2;
  const p = i % period;
  return p < n ? p : period - p;
}

/** A run of consecutive source frames: `count` frames from `first`, stepping by `step`. */
export interface Pass {
  first: number;
  count: number;
  step: 1 | -1;
}

/** The timeline as passes over a clip of `n` frames, endless: the first pass is 0..n-1. */
export function* passes(n: number, loop: LoopMode): Generator<Pass> {
  for (;;) {
    yield { first: 0, count: n, step: 1 };
    if (loop === "pingpong" && n > 2) yield { first: n - 2, count: n - 2, step: -1 };
  }
}
