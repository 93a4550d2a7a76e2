import type { InferenceSession } from "onnxruntime-node";
import { Tensor } from "onnxruntime-node";
import { type RgbImage, resizeRegion } from "../adapters/image.ts";
import { BadInputError } from "../errors.ts";
import { type Anchor, type AnchorOptions, ssdAnchors } from "./anchors.ts";
import { type DecodeOptions, decodeDetections, weightedNms } from "./detections.ts";

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

type Meta = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;

export function bindBlazeFace(session: Meta, modelLabel: string): BlazeFaceBinding {
  const shape = (m: InferenceSession.ValueMetadata) => (m.isTensor ? m.shape : []);
  const input = session.inputMetadata[0];
  const size = input ? shape(input)[1] : undefined;
  const conf = typeof size === "number" ? BLAZEFACE_CONFIGS[size] : undefined;
  const outs = session.outputMetadata.map((m) => ({ name: m.name, shape: shape(m) }));
  const scores = outs.filter((o) => o.shape.length === 3 && o.shape[2] === 1);
  const heads = scores.map((s) => ({
    scores: s.name,
    boxes: outs.find((o) => o.shape.length === 3 && o.shape[2] === 16 && o.shape[1] === s.shape[1])?.name,
    count: s.shape[1] as number,
  }));
  // The stride-8 (or 16) head has more anchors and comes first in MediaPipe's anchor order.
  heads.sort((a, b) => b.count - a.count);
  const total = heads.reduce((n, h) => n + h.count, 0);
  if (
    !input ||
    !conf ||
    session.inputMetadata.length !== 1 ||
    heads.some((h) => !h.boxes) ||
    total !== conf.anchors.length
  )
    throw new BadInputError(
      `${modelLabel} does not fit the blazeface adapter, which needs one input [1,128,128,3] or [1,256,256,3] ` +
        `and score/regressor outputs for ${896} anchors ([1,N,1] and [1,N,16]); the model has inputs ` +
        `${session.inputMetadata.map((m) => `${m.name} [${shape(m).join(",")}]`).join(", ")} and outputs ` +
        `${outs.map((o) => `${o.name} [${o.shape.join(",")}]`).join(", ")}`,
    );
  return {
    input: input.name,
    size: conf.size,
    heads: heads as BlazeFaceBinding["heads"],
    minScore: conf.decode.minScoreThresh,
  };
}

/** Where a frame sits in the square tensor after an aspect-keeping (letterboxed) resize. */
export interface Letterbox {
  size: number;
  offsetX: number;
  offsetY: number;
  scaleX: number;
  scaleY: number;
}

export function letterbox(width: number, height: number, size: number): Letterbox {
  const scale = Math.min(size / width, size / height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return {
    size,
    offsetX: Math.floor((size - w) / 2),
    offsetY: Math.floor((size - h) / 2),
    scaleX: w / width,
    scaleY: h / height,
  };
}

/**
 * The model's input for one frame: resized keeping its aspect ratio, centred, padded with
 * black (MediaPipe's BORDER_ZERO is applied to the 8-bit image before the range change),
 * RGB scaled to [-1,1].
 */
export function toInputTensor(frame: RgbImage, size: number): { data: Float32Array; box: Letterbox } {
  const box = letterbox(frame.width, frame.height, size);
  const w = Math.round(frame.width * box.scaleX);
  const h = Math.round(frame.height * box.scaleY);
  const resized = resizeRegion(frame, { x1: 0, y1: 0, x2: frame.width, y2: frame.height }, w, h);
  const data = new Float32Array(size * size * 3).fill(-1);
  for (let y = 0; y < h; y++) {
    const row = ((y + box.offsetY) * size + box.offsetX) * 3;
    for (let i = 0; i < w * 3; i++) data[row + i] = (resized[y * w * 3 + i] as number) / 127.5 - 1;
  }
  return { data, box };
}

/** A face in frame pixels. */
export interface Face {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
}

/** Runs the detector on one frame: decode, weighted NMS, letterbox removed; best face first. */
export async function detectFaces(
  session: InferenceSession,
  binding: BlazeFaceBinding,
  frame: RgbImage,
  minScore: number,
): Promise<Face[]> {
  const conf = BLAZEFACE_CONFIGS[binding.size] as BlazeFaceConfig;
  const { data, box } = toInputTensor(frame, binding.size);
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
  }));
}
