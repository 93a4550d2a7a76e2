import { describe, expect, it } from "vitest";
import { featherMask } from "./mask.ts";

describe("featherMask (FaceFusion's static box mask)", () => {
  const at = (m: Float32Array, x: number, y: number) => m[y * 128 + x] as number;

  it("is 1 in the middle and near 0 at the edges, rising smoothly in between", () => {
    const m = featherMask(128, 0.3);
    expect(at(m, 64, 64)).toBeCloseTo(1, 5);
    // The blur reaches the edge a little (0.073), as FaceFusion's does.
    expect(at(m, 0, 64)).toBeLessThan(0.1);
    expect(at(m, 64, 127)).toBeLessThan(0.1);
    expect(at(m, 0, 0)).toBeLessThan(0.01);
    const row = Array.from({ length: 64 }, (_, x) => at(m, x, 64));
    for (let x = 1; x < 64; x++) expect(row[x]).toBeGreaterThanOrEqual((row[x - 1] as number) - 1e-6);
    // Half way up about where the hard box (border 9 = 0.3 * 64 / 2) begins.
    const half = row.findIndex((v) => v >= 0.5);
    expect(half).toBeGreaterThanOrEqual(8);
    expect(half).toBeLessThanOrEqual(10);
  });

  it("is a hard box with a 1-pixel border at blend 0, and wider feathering with a larger blend", () => {
    const hard = featherMask(128, 0);
    expect(at(hard, 0, 64)).toBe(0);
    expect(at(hard, 1, 64)).toBe(1);
    const soft = featherMask(128, 0.8);
    expect(at(soft, 20, 64)).toBeLessThan(at(featherMask(128, 0.3), 20, 64));
  });
});
