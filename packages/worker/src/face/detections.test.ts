import { describe, expect, it } from "vitest";
import { type DecodeOptions, type Detection, decodeDetections, iou, weightedNms } from "./detections.ts";

const opts: DecodeOptions = {
  numCoords: 16,
  numKeypoints: 6,
  keypointCoordOffset: 4,
  xScale: 128,
  yScale: 128,
  wScale: 128,
  hScale: 128,
  scoreClippingThresh: 100,
  minScoreThresh: 0.5,
};

const det = (xmin: number, ymin: number, xmax: number, ymax: number, score: number, kp = 0): Detection => ({
  xmin,
  ymin,
  xmax,
  ymax,
  score,
  keypoints: Array(12).fill(kp),
});

describe("decodeDetections", () => {
  it("decodes XYWH offsets against the anchor, in input-size units, with sigmoid scores", () => {
    const anchors = [
      { xCenter: 0.5, yCenter: 0.25, w: 1, h: 1 },
      { xCenter: 0.1, yCenter: 0.1, w: 1, h: 1 },
    ];
    const raw = new Float32Array(32);
    raw.set([12.8, -6.4, 32, 64, 0, 0, 12.8, 12.8]); // centre +0.1,-0.05; size 0.25 x 0.5; keypoint 0 at centre, keypoint 1 offset
    const logits = new Float32Array([2, -3]); // sigmoid 0.881, 0.047 (dropped: under 0.5)
    const [d, ...rest] = decodeDetections(raw, logits, anchors, opts);
    expect(rest).toHaveLength(0);
    expect(d?.score).toBeCloseTo(1 / (1 + Math.exp(-2)));
    expect(d?.xmin).toBeCloseTo(0.6 - 0.125);
    expect(d?.xmax).toBeCloseTo(0.6 + 0.125);
    expect(d?.ymin).toBeCloseTo(0.2 - 0.25);
    expect(d?.ymax).toBeCloseTo(0.2 + 0.25);
    expect(d?.keypoints.slice(0, 4).map((v) => Number(v.toFixed(4)))).toEqual([0.5, 0.25, 0.6, 0.35]);
  });

  it("clips logits at ±100 and drops boxes with a negative size", () => {
    const anchors = [
      { xCenter: 0.5, yCenter: 0.5, w: 1, h: 1 },
      { xCenter: 0.5, yCenter: 0.5, w: 1, h: 1 },
    ];
    const raw = new Float32Array(32);
    raw.set([0, 0, 10, 10], 0);
    raw.set([0, 0, -10, 10], 16);
    const found = decodeDetections(raw, new Float32Array([1e6, 50]), anchors, opts);
    expect(found).toHaveLength(1);
    expect(found[0]?.score).toBe(1 / (1 + Math.exp(-100)));
  });
});

describe("weightedNms", () => {
  it("blends overlapping boxes by score and keeps the best score", () => {
    const out = weightedNms([det(0.1, 0.1, 0.3, 0.3, 0.6, 1), det(0.12, 0.12, 0.32, 0.32, 0.9, 3)], 0.3);
    expect(out).toHaveLength(1);
    expect(out[0]?.score).toBe(0.9);
    expect(out[0]?.xmin).toBeCloseTo((0.1 * 0.6 + 0.12 * 0.9) / 1.5);
    expect(out[0]?.xmax).toBeCloseTo((0.3 * 0.6 + 0.32 * 0.9) / 1.5);
    expect(out[0]?.keypoints[0]).toBeCloseTo((1 * 0.6 + 3 * 0.9) / 1.5);
  });

  it("keeps separate faces apart, best first", () => {
    const out = weightedNms(
      [det(0.1, 0.1, 0.2, 0.2, 0.7), det(0.6, 0.6, 0.8, 0.8, 0.95), det(0.11, 0.1, 0.21, 0.2, 0.8)],
      0.3,
    );
    expect(out.map((d) => d.score)).toEqual([0.95, 0.8]);
  });

  it("does not merge boxes overlapping at or under the threshold", () => {
    // IoU of these two is 1/3 > 0.3 but < 0.4
    const a = det(0, 0, 2, 1, 0.9);
    const b = det(1, 0, 3, 1, 0.8);
    expect(iou(a, b)).toBeCloseTo(1 / 3);
    expect(weightedNms([a, b], 0.4)).toHaveLength(2);
    expect(weightedNms([a, b], 0.3)).toHaveLength(1);
  });
});
