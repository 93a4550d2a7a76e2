import type { InferenceSession } from "onnxruntime-node";
import { Tensor } from "onnxruntime-node";
import { type RgbImage, resizeRegion } from "./image.ts";
import { type Anchor, type AnchorOptions, ssdAnchors } from "./anchors.ts";
import { type DecodeOptions, decodeDetections, iou, weightedNms } from "./detections.ts";

/**
 * The blazeface adapter: MediaPipe's BlazeFace detectors as ONNX (input [1,S,S,3] float
 * NHWC, RGB in [-1,1]; 896 anchors split in two heads of 512 and 384). The graph options
 * below are MediaPipe's own: face_detection_short_range.pbtxt for the 128x128 front model,
 * face_detection_back_desktop_live.pbtxt for the 256x256 back (full-range) model.
 */
export interface BlazeFaceConfig {
  size: number;
  anchors: Anchor[];
  decode: DecodeOptions;
  minSuppressionThreshold: number;
}

const common = {
  minScale: 0,
  maxScale: 0.75,
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
  aspectRatios: [1],
  interpolatedScaleAspectRatio: 1,
  fixedAnchorSize: true,
};

function config(
  size: number,
  anchors: Omit<AnchorOptions, keyof typeof common | "inputWidth" | "inputHeight"> & { minScale: number },
  minScoreThresh: number,
): BlazeFaceConfig {
  return {
    size,
    anchors: ssdAnchors({ ...common, ...anchors, inputWidth: size, inputHeight: size }),
    decode: {
      numCoords: 16,
      numKeypoints: 6,
      keypointCoordOffset: 4,
      xScale: size,
      yScale: size,
      wScale: size,
      hScale: size,
      scoreClippingThresh: 100,
      minScoreThresh,
    },
    minSuppressionThreshold: 0.3,
  };
}

/** Keyed by input size: 128 = short range (front camera), 256 = full range (back camera). */
export const BLAZEFACE_CONFIGS: Record<number, BlazeFaceConfig> = {
  128: config(128, { minScale: 0.1484375, strides: [8, 16, 16, 16] }, 0.5),
  256: config(256, { minScale: 0.15625, strides: [16, 32, 32, 32] }, 0.65),
};

/** Input/output names of a loaded detector, read from the model (names are not assumed). */
export interface BlazeFaceBinding {
  input: string;
  size: number;
  /** Score heads in anchor order, with the regressor head of the same length. */
  heads: { scores: string; boxes: string; count: number }[];
  /** MediaPipe's min_score_thresh for this model. */
  minScore: number;
}

/** How frame pixels map into the square tensor: tensor = offset + frame * scale, per axis. */
export interface Placement {
  size: number;
  offsetX: number;
  offsetY: number;
  scaleX: number;
  scaleY: number;
}

/** A square region of the frame in pixels (it may reach outside the frame). */
export interface Region {
  x1: number;
  y1: number;
  side: number;
}

/** The square around the whole frame: detecting in it is MediaPipe's letterboxed full frame. */
export const letterboxRegion = (width: number, height: number): Region => {
  const side = Math.max(width, height);
  return { x1: (width - side) / 2, y1: (height - side) / 2, side };
};

/**
 * The model's input for a square region of a frame (MediaPipe's ImageToTensor with an ROI,
 * keep_aspect_ratio): resized to size x size, parts outside the frame black (BORDER_ZERO is
 * applied to the 8-bit image before the range change), RGB scaled to [-1,1].
 */
export function toInputTensor(
  frame: RgbImage,
  size: number,
  region: Region = letterboxRegion(frame.width, frame.height),
): { data: Float32Array; box: Placement } {
  const s = size / region.side;
  const ix1 = Math.max(0, Math.floor(region.x1));
  const iy1 = Math.max(0, Math.floor(region.y1));
  const ix2 = Math.min(frame.width, Math.ceil(region.x1 + region.side));
  const iy2 = Math.min(frame.height, Math.ceil(region.y1 + region.side));
  const data = new Float32Array(size * size * 3).fill(-1);
  const tx = Math.min(size - 1, Math.max(0, Math.round((ix1 - region.x1) * s)));
  const ty = Math.min(size - 1, Math.max(0, Math.round((iy1 - region.y1) * s)));
  const w = Math.min(size - tx, Math.max(1, Math.round((ix2 - ix1) * s)));
  const h = Math.min(size - ty, Math.max(1, Math.round((iy2 - iy1) * s)));
  const resized = resizeRegion(frame, { x1: ix1, y1: iy1, x2: ix2, y2: iy2 }, w, h);
  for (let y = 0; y < h; y++) {
    const row = ((y + ty) * size + tx) * 3;
    for (let i = 0; i < w * 3; i++) data[row + i] = (resized[y * w * 3 + i] as number) / 127.5 - 1;
  }
  const scaleX = w / (ix2 - ix1);
  const scaleY = h / (iy2 - iy1);
  return { data, box: { size, offsetX: tx - ix1 * scaleX, offsetY: ty - iy1 * scaleY, scaleX, scaleY } };
}

/** A face in frame pixels. */
export interface Face {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** MediaPipe's six keypoints as [x, y] pairs: right eye, left eye, nose tip, mouth centre, right and left ear tragion. */
  keypoints: number[];
}

/** One detector pass over a region of the frame: decode, weighted NMS, back to frame pixels. */
async function detectIn(
  session: InferenceSession,
  binding: BlazeFaceBinding,
  frame: RgbImage,
  minScore: number,
  region?: Region,
): Promise<Face[]> {
  const conf = BLAZEFACE_CONFIGS[binding.size] as BlazeFaceConfig;
  const { data, box } = toInputTensor(frame, binding.size, region);
  const result = await session.run({
    [binding.input]: new Tensor("float32", data, [1, binding.size, binding.size, 3]),
  });
  const logits = new Float32Array(conf.anchors.length);
  const raw = new Float32Array(conf.anchors.length * 16);
  let at = 0;
  for (const head of binding.heads) {
    const s = result[head.scores] as Tensor;
    const b = result[head.boxes] as Tensor;
    logits.set(s.data as Float32Array, at);
    raw.set(b.data as Float32Array, at * 16);
    at += head.count;
    s.dispose();
    b.dispose();
  }
  const found = weightedNms(
    decodeDetections(raw, logits, conf.anchors, { ...conf.decode, minScoreThresh: minScore }),
    conf.minSuppressionThreshold,
  );
  const px = (v: number, offset: number, scale: number) => (v * box.size - offset) / scale;
  return found.map((d) => ({
    x1: px(d.xmin, box.offsetX, box.scaleX),
    y1: px(d.ymin, box.offsetY, box.scaleY),
    x2: px(d.xmax, box.offsetX, box.scaleX),
    y2: px(d.ymax, box.offsetY, box.scaleY),
    score: d.score,
    keypoints: d.keypoints.map((v, i) =>
      i % 2 === 0 ? px(v, box.offsetX, box.scaleX) : px(v, box.offsetY, box.scaleY),
    ),
  }));
}

/** A face smaller than this share of the input side is looked at again, closer. */
export const REFINE_BELOW = 0.25;
/** The closer look: a square this many face sizes wide, centred on the face. */
export const REFINE_REGION = 3;

/**
 * Finds the faces in a frame, best first. The first pass sees the whole frame letterboxed,
 * as MediaPipe's face-detection graph does. A face that came out small in that input (a
 * face far from the camera in a wide frame, where BlazeFace's boxes are loose) is detected
 * again in a square region around it (the graph's ROI input), where it fills a good part of
 * the input; the refined box replaces the first when the second pass finds the face.
 */
export async function detectFaces(
  session: InferenceSession,
  binding: BlazeFaceBinding,
  frame: RgbImage,
  minScore: number,
): Promise<Face[]> {
  const whole = letterboxRegion(frame.width, frame.height);
  const faces = await detectIn(session, binding, frame, minScore, whole);
  const refined: Face[] = [];
  for (const face of faces) {
    const side = Math.max(face.x2 - face.x1, face.y2 - face.y1);
    if (side >= REFINE_BELOW * whole.side) {
      refined.push(face);
      continue;
    }
    const region = {
      x1: (face.x1 + face.x2) / 2 - (REFINE_REGION * side) / 2,
      y1: (face.y1 + face.y2) / 2 - (REFINE_REGION * side) / 2,
      side: REFINE_REGION * side,
    };
    const again = await detectIn(session, binding, frame, minScore, region);
    const overlap = (f: Face) =>
      iou(
        { xmin: f.x1, ymin: f.y1, xmax: f.x2, ymax: f.y2 },
        { xmin: face.x1, ymin: face.y1, xmax: face.x2, ymax: face.y2 },
      );
    const best = again.reduce<Face | undefined>((a, f) => (overlap(f) > (a ? overlap(a) : 0.3) ? f : a), undefined);
    refined.push(best ?? face);
  }
  return refined.sort((a, b) => b.score - a.score);
}
