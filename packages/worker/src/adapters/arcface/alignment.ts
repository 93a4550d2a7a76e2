/**
 * Face alignment for the ArcFace family (docs/architecture.md#face-swap): a similarity
 * transform (scale, rotation, translation; no shear, no mirror) that takes the detector's
 * keypoints as close as possible, in the least-squares sense, to ArcFace's five-point
 * template. insightface fits the same transform (skimage's SimilarityTransform, Umeyama's
 * method); in 2D its closed form needs no SVD.
 */

/** A point in pixels. */
export type Point = readonly [number, number];

/**
 * A 2x3 affine matrix [a, b, c, d, e, f]: (x, y) -> (a x + b y + c, d x + e y + f), pixel
 * centres at integer coordinates (OpenCV's warpAffine convention).
 */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * ArcFace's 112x112 template (insightface's arcface_dst): the subject's right eye (on the
 * image's left), left eye, nose tip, right and left mouth corners.
 */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * The template for a square crop of `size` pixels, as insightface's estimate_norm places
 * it: sizes that are multiples of 112 scale it; multiples of 128 (the swapper's 128) scale it
 * by size/128 and shift it right by 8 * size/128, so the 112 face sits centred in the wider crop.
 */
export function arcfaceTemplate(size: number): Point[] {
  const by112 = size % 112 === 0;
  if (!by112 && size % 128 !== 0) throw new Error(`no ArcFace template for a ${size}-pixel crop (112k or 128k)`);
  const ratio = by112 ? size / 112 : size / 128;
  const shift = by112 ? 0 : 8 * ratio;
  return ARCFACE_TEMPLATE_112.map(([x, y]) => [x * ratio + shift, y * ratio] as Point);
}

/**
 * BlazeFace's six keypoints (MediaPipe's order: right eye, left eye, nose tip, mouth centre,
 * right and left ear tragion; "right" is the subject's) as [x0, y0, x1, y1, ...] in pixels.
 * Four of them have a place in the template: the eyes and nose as they are, the mouth centre
 * at the midpoint of the template's two mouth corners. The tragions have none.
 */
export function blazeFaceCorrespondences(keypoints: readonly number[], size: number): { from: Point[]; to: Point[] } {
  if (keypoints.length < 8) throw new Error(`need 4 keypoints (8 numbers), got ${keypoints.length}`);
  const t = arcfaceTemplate(size);
  const at = (i: number): Point => [keypoints[2 * i] as number, keypoints[2 * i + 1] as number];
  const [rightEye, leftEye, nose, rightMouth, leftMouth] = t as [Point, Point, Point, Point, Point];
  const mouth: Point = [(rightMouth[0] + leftMouth[0]) / 2, (rightMouth[1] + leftMouth[1]) / 2];
  return { from: [at(0), at(1), at(2), at(3)], to: [rightEye, leftEye, nose, mouth] };
}

/**
 * The least-squares similarity transform taking `from` to `to` (Umeyama 1991 restricted to
 * 2D without reflection): with both point sets centred, scale*cos = sum(p.q)/sum(|p|^2) and
 * scale*sin = sum(p x q)/sum(|p|^2); the translation takes the centroid to the centroid.
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Affine {
  if (from.length !== to.length || from.length < 2) throw new Error("need two or more point pairs");
  const n = from.length;
  const mean = (ps: readonly Point[]) => ps.reduce((m, p) => [m[0] + p[0] / n, m[1] + p[1] / n] as Point, [0, 0]);
  const [px, py] = mean(from);
  const [qx, qy] = mean(to);
  let dot = 0;
  let cross = 0;
  let spread = 0;
  from.forEach(([x, y], i) => {
    const [u, v] = to[i] as Point;
    const ax = x - px;
    const ay = y - py;
    const bx = u - qx;
    const by = v - qy;
    dot += ax * bx + ay * by;
    cross += ax * by - ay * bx;
    spread += ax * ax + ay * ay;
  });
  if (!(spread > 0)) throw new Error("the points coincide: no transform fits them");
  const a = dot / spread;
  const b = cross / spread;
  return [a, -b, qx - (a * px - b * py), b, a, qy - (b * px + a * py)];
}

/** The crop's transform for a face: frame pixels -> pixels of a `size` x `size` ArcFace crop. */
export function alignToTemplate(keypoints: readonly number[], size: number): Affine {
  const { from, to } = blazeFaceCorrespondences(keypoints, size);
  return fitSimilarity(from, to);
}

/** The inverse of an affine transform (crop pixels -> frame pixels). */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (det === 0) throw new Error("the transform is singular");
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

export const applyAffine = (m: Affine, [x, y]: Point): Point => [
  m[0] * x + m[1] * y + m[2],
  m[3] * x + m[4] * y + m[5],
];
