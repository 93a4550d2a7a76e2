import type { Anchor } from "./anchors.ts";

/** A face in normalized coordinates of the model's input ([0,1] across the tensor). */
export interface Detection {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  score: number;
  /** Six keypoints (eyes, nose, mouth, ears) as [x, y] pairs. */
  keypoints: number[];
}

/** TensorsToDetectionsCalculatorOptions as MediaPipe's face-detection graphs set them. */
export interface DecodeOptions {
  numCoords: number;
  numKeypoints: number;
  keypointCoordOffset: number;
  xScale: number;
  yScale: number;
  wScale: number;
  hScale: number;
  scoreClippingThresh: number;
  minScoreThresh: number;
}

/**
 * Decodes raw regressors [N, numCoords] and logits [N] against the anchors, as
 * tensors_to_detections_calculator.cc does with reverse_output_order (XYWH boxes,
 * x-then-y keypoints), sigmoid scores clipped at ±scoreClippingThresh, and the
 * min_score_thresh filter. Boxes with a negative or NaN size are dropped, as there.
 */
export function decodeDetections(
  raw: Float32Array,
  logits: Float32Array,
  anchors: readonly Anchor[],
  o: DecodeOptions,
): Detection[] {
  const out: Detection[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const clip = o.scoreClippingThresh;
    const logit = Math.min(clip, Math.max(-clip, logits[i] as number));
    const score = 1 / (1 + Math.exp(-logit));
    if (score < o.minScoreThresh) continue;
    const a = anchors[i] as Anchor;
    const b = i * o.numCoords;
    const xc = ((raw[b] as number) / o.xScale) * a.w + a.xCenter;
    const yc = ((raw[b + 1] as number) / o.yScale) * a.h + a.yCenter;
    const w = ((raw[b + 2] as number) / o.wScale) * a.w;
    const h = ((raw[b + 3] as number) / o.hScale) * a.h;
    if (!(w >= 0 && h >= 0)) continue;
    const keypoints: number[] = [];
    for (let k = 0; k < o.numKeypoints; k++) {
      const kb = b + o.keypointCoordOffset + k * 2;
      keypoints.push(
        ((raw[kb] as number) / o.xScale) * a.w + a.xCenter,
        ((raw[kb + 1] as number) / o.yScale) * a.h + a.yCenter,
      );
    }
    out.push({ xmin: xc - w / 2, ymin: yc - h / 2, xmax: xc + w / 2, ymax: yc + h / 2, score, keypoints });
  }
  return out;
}

/** Intersection over union of two boxes (0 when they do not overlap). */
export function iou(a: Box, b: Box): number {
  const ix = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin);
  const iy = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

export interface Box {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/**
 * MediaPipe's WEIGHTED non-max suppression (non_max_suppression_calculator.cc) with
 * INTERSECTION_OVER_UNION overlap: take the best remaining detection, gather every remaining
 * one overlapping it by more than the threshold (itself included), and emit the score-weighted
 * mean of their boxes and keypoints with the best one's score.
 */
export function weightedNms(detections: readonly Detection[], minSuppressionThreshold: number): Detection[] {
  let remaining = [...detections].sort((a, b) => b.score - a.score);
  const out: Detection[] = [];
  while (remaining.length > 0) {
    const best = remaining[0] as Detection;
    const candidates: Detection[] = [];
    const rest: Detection[] = [];
    for (const d of remaining) (iou(d, best) > minSuppressionThreshold ? candidates : rest).push(d);
    let total = 0;
    const box = { xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
    const keypoints = best.keypoints.map(() => 0);
    for (const c of candidates) {
      total += c.score;
      box.xmin += c.xmin * c.score;
      box.ymin += c.ymin * c.score;
      box.xmax += c.xmax * c.score;
      box.ymax += c.ymax * c.score;
      c.keypoints.forEach((v, k) => {
        keypoints[k] = (keypoints[k] as number) + v * c.score;
      });
    }
    out.push(
      candidates.length > 0
        ? {
            xmin: box.xmin / total,
            ymin: box.ymin / total,
            xmax: box.xmax / total,
            ymax: box.ymax / total,
            score: best.score,
            keypoints: keypoints.map((v) => v / total),
          }
        : best,
    );
    // MediaPipe stops when a round removed nothing (a NaN box overlaps nothing, itself included).
    if (rest.length === remaining.length) break;
    remaining = rest;
  }
  return out;
}
