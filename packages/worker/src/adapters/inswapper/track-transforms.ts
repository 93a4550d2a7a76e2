import { type Affine, alignToTemplate } from "../arcface/alignment.ts";

/**
 * Per source frame, the swapper's crop transform from the face track's keypoints (smoothed
 * like its boxes, so the crop does not jitter); null where the track has no face.
 */
export function trackTransforms(
  keypoints: readonly (readonly number[] | null)[],
  size: number,
): (n: number) => Affine | null {
  const transforms = keypoints.map((k) => (k ? alignToTemplate(k, size) : null));
  return (n) => transforms[n] ?? null;
}
