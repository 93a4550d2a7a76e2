import { describe, expect, it } from "vitest";
import {
  type Affine,
  ARCFACE_TEMPLATE_112,
  alignToTemplate,
  applyAffine,
  arcfaceTemplate,
  blazeFaceCorrespondences,
  fitSimilarity,
  invertAffine,
  type Point,
} from "./alignment.ts";

/** scale s, rotation r (radians), translation (tx, ty). */
const similarity = (s: number, r: number, tx: number, ty: number): Affine => [
  s * Math.cos(r),
  -s * Math.sin(r),
  tx,
  s * Math.sin(r),
  s * Math.cos(r),
  ty,
];
const squaredError = (m: Affine, from: Point[], to: Point[]) =>
  from.reduce((sum, p, i) => {
    const [x, y] = applyAffine(m, p);
    const [u, v] = to[i] as Point;
    return sum + (x - u) ** 2 + (y - v) ** 2;
  }, 0);

describe("ArcFace templates", () => {
  it("keeps insightface's 112 template, doubles it for 224, and shifts it 8 pixels right (unscaled) for the swapper's 128", () => {
    expect(arcfaceTemplate(112)).toEqual(ARCFACE_TEMPLATE_112);
    expect(arcfaceTemplate(224)[0]).toEqual([38.2946 * 2, 51.6963 * 2]);
    const t128 = arcfaceTemplate(128);
    t128.forEach(([x, y], i) => {
      const [x0, y0] = ARCFACE_TEMPLATE_112[i] as Point;
      expect(x).toBeCloseTo(x0 + 8, 10);
      expect(y).toBeCloseTo(y0, 10);
    });
    expect(() => arcfaceTemplate(100)).toThrow(/no ArcFace template/);
  });

  it("pairs BlazeFace's eyes, nose and mouth centre with the template, the mouth centre with the corners' midpoint", () => {
    const kps = [1, 2, 3, 4, 5, 6, 7, 8, 100, 100, 200, 200];
    const { from, to } = blazeFaceCorrespondences(kps, 112);
    expect(from).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]); // the ear tragions are not used
    expect(to[3]?.[0]).toBeCloseTo((41.5493 + 70.7299) / 2, 10);
    expect(to[3]?.[1]).toBeCloseTo((92.3655 + 92.2041) / 2, 10);
  });
});

describe("fitSimilarity (least squares, Umeyama)", () => {
  it("recovers a similarity exactly from points it moved", () => {
    const truth = similarity(2.5, 0.3, -40, 17);
    const from: Point[] = [
      [10, 10],
      [50, 12],
      [30, 40],
      [31, 60],
    ];
    const fit = fitSimilarity(
      from,
      from.map((p) => applyAffine(truth, p)),
    );
    for (const [i, v] of fit.entries()) expect(v).toBeCloseTo(truth[i] as number, 9);
  });

  it("minimizes the squared error when no similarity fits exactly (any small change makes it worse)", () => {
    const from: Point[] = [
      [100, 120],
      [160, 118],
      [131, 150],
      [129, 185],
    ];
    const to = arcfaceTemplate(128).slice(0, 4);
    const fit = fitSimilarity(from, to);
    const best = squaredError(fit, from, to);
    expect(best).toBeGreaterThan(0);
    // Perturb each of the four free parameters (a, b, tx, ty) both ways.
    const [a, b, c, , , f] = fit;
    for (const [da, db, dc, df] of [
      [1e-3, 0, 0, 0],
      [0, 1e-3, 0, 0],
      [0, 0, 0.05, 0],
      [0, 0, 0, 0.05],
    ] as const)
      for (const sign of [1, -1]) {
        const na = a + sign * da;
        const nb = -b + sign * db;
        const moved: Affine = [na, -nb, c + sign * dc, nb, na, f + sign * df];
        expect(squaredError(moved, from, to)).toBeGreaterThan(best);
      }
  });

  it("aligns a face's keypoints to the swapper's template: eyes level, eye distance as in the template", () => {
    // A face tilted by 10 degrees, eyes 40 px apart.
    const truth = invertAffine(similarity(35.2372 / 40, (-10 * Math.PI) / 180, 0, 0));
    const t = arcfaceTemplate(128);
    const mouth: Point = [((t[3]?.[0] ?? 0) + (t[4]?.[0] ?? 0)) / 2, ((t[3]?.[1] ?? 0) + (t[4]?.[1] ?? 0)) / 2];
    const kps = [t[0], t[1], t[2], mouth, [0, 70], [128, 70]].flatMap((p) => applyAffine(truth, p as Point));
    const toCrop = alignToTemplate(kps, 128);
    const [rx, ry] = applyAffine(toCrop, [kps[0] as number, kps[1] as number]);
    expect(rx).toBeCloseTo(t[0]?.[0] as number, 6);
    expect(ry).toBeCloseTo(t[0]?.[1] as number, 6);
  });

  it("inverts a transform", () => {
    const m = similarity(0.7, 1.1, 5, -9);
    const p: Point = [12, 34];
    const [x, y] = applyAffine(invertAffine(m), applyAffine(m, p));
    expect(x).toBeCloseTo(12, 10);
    expect(y).toBeCloseTo(34, 10);
  });
});
