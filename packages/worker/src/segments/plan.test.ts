import { describe, expect, it } from "vitest";
import { MAX_FIXED_SHARE, planSegments, segmentFrames } from "./plan.ts";

describe("planSegments", () => {
  it("keeps an item of at most one segment whole", () => {
    expect(planSegments(1500, 1500)).toBeUndefined();
    expect(planSegments(1, 1500)).toBeUndefined();
  });

  it("cuts a 5-minute timeline into 10 segments of 30 s that cover it once", () => {
    const spans = planSegments(7500, segmentFrames({ seconds: 30, fps: 25 })) ?? [];
    expect(spans).toHaveLength(10);
    expect(spans.every((s) => s.count === 750)).toBe(true);
    expect(spans.map((s) => s.start)).toEqual([0, 750, 1500, 2250, 3000, 3750, 4500, 5250, 6000, 6750]);
  });

  it("gives the remainder to a shorter last segment at a fractional frame rate", () => {
    const spans = planSegments(3001, segmentFrames({ seconds: 60, fps: 29.97 })) ?? [];
    expect(spans.map((s) => [s.start, s.count])).toEqual([
      [0, 1798],
      [1798, 1203],
    ]);
  });
});

describe("segmentFrames", () => {
  it("takes an unmeasured frame to cost its own duration", () => {
    expect(segmentFrames({ seconds: 60, fps: 25 })).toBe(1500);
  });

  it("gives a segment `seconds` of work at the measured cost: cheap frames, long segments", () => {
    // 2 ms a frame: 10 s of work is 5000 frames (200 s of 25 fps video).
    expect(segmentFrames({ seconds: 10, fps: 25, cost: { perFrame: 0.002, fixed: 0.2 } })).toBe(5000);
    expect(segmentFrames({ seconds: 10, fps: 25, cost: { perFrame: 0.04, fixed: 0.2 } })).toBe(250);
  });

  it("keeps the fixed cost at most MAX_FIXED_SHARE of a segment", () => {
    const cost = { perFrame: 0.002, fixed: 2 };
    const frames = segmentFrames({ seconds: 10, fps: 25, cost });
    expect(cost.fixed / (frames * cost.perFrame)).toBeLessThanOrEqual(MAX_FIXED_SHARE + 1e-9);
    expect(frames).toBe(20_000);
  });
});
