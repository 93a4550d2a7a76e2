import { describe, expect, it } from "vitest";
import { planSegments } from "./plan.ts";

describe("planSegments", () => {
  it("keeps an item of at most one segment whole", () => {
    expect(planSegments(1500, 25, 60)).toBeUndefined();
    expect(planSegments(1, 25, 60)).toBeUndefined();
  });

  it("cuts a 5-minute timeline into 10 segments of 30 s that cover it once", () => {
    const spans = planSegments(7500, 25, 30) ?? [];
    expect(spans).toHaveLength(10);
    expect(spans.every((s) => s.count === 750)).toBe(true);
    expect(spans.map((s) => s.start)).toEqual([0, 750, 1500, 2250, 3000, 3750, 4500, 5250, 6000, 6750]);
  });

  it("gives the remainder to a shorter last segment at a fractional frame rate", () => {
    const spans = planSegments(3001, 29.97, 60) ?? [];
    expect(spans.map((s) => [s.start, s.count])).toEqual([
      [0, 1798],
      [1798, 1203],
    ]);
  });
});
