import type { Rect } from "./image.ts";
import type { Face } from "./blazeface.ts";
import { iou } from "./detections.ts";

/** A face box in frame pixels: [x1, y1, x2, y2]. */
export type TrackBox = [number, number, number, number];

const asBox = (b: TrackBox) => ({ xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] });
const centre = (b: TrackBox) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] as const;

/** The boxes of the faces followFaces chooses. */
export function followFace(perFrame: readonly (readonly Face[])[]): (TrackBox | null)[] {
  return followFaces(perFrame).map((f) => (f ? ([f.x1, f.y1, f.x2, f.y2] as TrackBox) : null));
}

/**
 * One face per frame. The first face is the most confident one; after that the track keeps
 * to the face overlapping the last chosen box most (nearest centre when none overlaps), so it
 * stays with one person when several are in view. Frames without a face get null.
 */
export function followFaces(perFrame: readonly (readonly Face[])[]): (Face | null)[] {
  let last: TrackBox | undefined;
  return perFrame.map((faces) => {
    if (faces.length === 0) return null;
    const boxes = faces.map((f) => [f.x1, f.y1, f.x2, f.y2] as TrackBox);
    let chosen: TrackBox;
    if (!last) {
      const best = faces.reduce((a, b) => (b.score > a.score ? b : a));
      chosen = boxes[faces.indexOf(best)] as TrackBox;
    } else {
      const ref = last;
      const [cx, cy] = centre(ref);
      const rank = (b: TrackBox) => {
        const [x, y] = centre(b);
        return [iou(asBox(b), asBox(ref)), -Math.hypot(x - cx, y - cy)] as const;
      };
      chosen = boxes.reduce((a, b) => {
        const [ia, da] = rank(a);
        const [ib, db] = rank(b);
        return ib > ia || (ib === ia && db > da) ? b : a;
      });
    }
    last = chosen;
    return faces[boxes.indexOf(chosen)] as Face;
  });
}

/**
 * Smooths boxes (or any per-frame coordinates, such as keypoints) with the mean over a centred window of `window` frames (Wav2Lip's
 * get_smoothened_boxes takes the mean of 5; centred here so a steadily moving face is not
 * led or trailed). The window stays inside a run of frames with a face (a face entering or
 * leaving is not averaged with frames where it is absent) and stays centred there: near a
 * run's ends it narrows on both sides, since a one-sided mean trails a moving face.
 * window 1 = no smoothing.
 */
export function smoothTrack<T extends number[]>(boxes: readonly (T | null)[], window: number): (T | null)[] {
  const runStart: number[] = [];
  const runEnd: number[] = [];
  boxes.forEach((b, i) => {
    runStart[i] = b && i > 0 && boxes[i - 1] ? (runStart[i - 1] as number) : i;
  });
  for (let i = boxes.length - 1; i >= 0; i--)
    runEnd[i] = boxes[i] && i < boxes.length - 1 && boxes[i + 1] ? (runEnd[i + 1] as number) : i;
  const half = Math.floor((window - 1) / 2);
  return boxes.map((box, i) => {
    if (!box) return null;
    const reach = Math.min(half, i - (runStart[i] as number), (runEnd[i] as number) - i);
    const sum = box.map(() => 0);
    for (let j = i - reach; j <= i + reach; j++)
      for (let k = 0; k < sum.length; k++) sum[k] = (sum[k] as number) + ((boxes[j] as T)[k] as number);
    return sum.map((v) => v / (2 * reach + 1)) as T;
  });
}

/**
 * Wav2Lip's crop of a detected face (face_detect() in its inference.py): the box grown by
 * pads [top, bottom, left, right], clipped to the frame. Pads apply to detected boxes only.
 */
export function paddedCrop(
  box: TrackBox,
  pads: readonly [number, number, number, number],
  width: number,
  height: number,
): Rect | null {
  const [top, bottom, left, right] = pads;
  const rect = {
    x1: Math.max(0, Math.round(box[0] - left)),
    y1: Math.max(0, Math.round(box[1] - top)),
    x2: Math.min(width, Math.round(box[2] + right)),
    y2: Math.min(height, Math.round(box[3] + bottom)),
  };
  return rect.x2 - rect.x1 >= 1 && rect.y2 - rect.y1 >= 1 ? rect : null;
}

/** Wav2Lip's --box: the user's face box [x, y, width, height] used as given (no pads). */
export function boxCrop(box: readonly [number, number, number, number]): Rect {
  const [x, y, w, h] = box;
  return { x1: x, y1: y, x2: x + w, y2: y + h };
}

/** Per source frame: the crop to lip-sync, or null to pass the frame through unchanged. */
export type CropLookup = (sourceFrame: number) => Rect | null;

export function trackCrops(
  boxes: readonly (TrackBox | null)[],
  pads: readonly [number, number, number, number],
  width: number,
  height: number,
): CropLookup {
  const crops = boxes.map((b) => (b ? paddedCrop(b, pads, width, height) : null));
  return (i) => crops[i] ?? null;
}
