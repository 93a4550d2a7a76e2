/**
 * Crop-and-scale of the face region and paste of the prediction on yuv420p frames, as two tiny
 * ONNX graphs run by ONNX Runtime's native kernels, which also convert the box between yuv and
 * rgb: JavaScript never touches a full frame's pixels, only copies the pasted patch's rows into
 * the frame's planes (docs/architecture.md#frame-path).
 *
 * Resize uses half-pixel centres and clamps at the edges, which is exactly OpenCV's
 * INTER_LINEAR (what Wav2Lip uses). The face box is an input, so it may change every frame.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import {
  DataType,
  encodeModel,
  floatTensor,
  int64Tensor,
  intAttr as int,
  intsAttr as ints,
  node,
  stringAttr as str,
  tensorType,
} from "../onnx-schema.ts";
import { colourFeeds, conversionInputs, copyRows, int64Input, longs, plane } from "./graph-io.ts";
import { COLOR_MATRICES, type ColorConversion, type ColorMatrix, rgbToYuv, yuvLayout, yuvToRgb } from "../media/yuv.ts";

/** Side of Wav2Lip's square face input and output. */
export const FACE_SIZE = 96;
const S = FACE_SIZE;
const PLANE = S * S;
/** Floats of one frame's face input: (masked crop, crop) as 6 planes. */
export const FACE_FLOATS = 6 * PLANE;
/** Floats of one frame's prediction: [3,96,96]. */
export const PREDICTION_FLOATS = 3 * PLANE;

/** A crop rectangle in pixels: [x1, x2) x [y1, y2). */
export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Which of the crop's rgb channels feed the model's channels 0..2 (and come back from it). */
export type ChannelOrder = "rgb" | "bgr";

const LINEAR = [str("coordinate_transformation_mode", "half_pixel"), str("mode", "linear")];
const META = { producer: "mediaq frame-ops", doc: "mediaq face crop and paste (docs/architecture.md#frame-path)" };

/**
 * The box's rows of a yuv420p frame -> face float [1,6,96,96]. Inputs: luma [rows, W] (rows
 * y1..y2), u and v [chroma rows, W/2] (rows y1/2..ceil(y2/2)); the luma columns x1..x2, the
 * chroma columns x1/2..ceil(x2/2); `phase` = (y1 % 2, x1 % 2), where the box starts in the
 * chroma's 2x2 cells. Chroma is repeated 2x2 (as ffmpeg's yuv420p -> rgb24 does), the box
 * scaled to 96x96, converted to rgb (clamped and rounded as rgb24 is), put in [0,1] in the
 * model's channel order, then given first with its lower half zeroed (hidden from the model, as Wav2Lip does),
 * then whole.
 */
function cropGraph() {
  const mask = new Float32Array(PLANE);
  mask.fill(1, 0, PLANE / 2);
  return {
    name: "face-crop",
    input: [
      plane("luma", ["rows", "width"]),
      plane("u", ["chroma_rows", "chroma_width"]),
      plane("v", ["chroma_rows", "chroma_width"]),
      int64Input("starts", 2),
      int64Input("ends", 2),
      int64Input("chroma_starts", 2),
      int64Input("chroma_ends", 2),
      int64Input("phase_starts", 2),
      int64Input("phase_ends", 2),
      ...conversionInputs("to_rgb"),
      int64Input("channels", 3),
    ],
    output: [{ name: "face", type: tensorType([1, 6, S, S], DataType.FLOAT) }],
    initializer: [
      int64Tensor("yx", [0, 1]),
      int64Tensor("chroma_yx", [1, 2]),
      floatTensor("cell_ones", [2, 1, 2, 2], new Float32Array(8).fill(1)),
      int64Tensor("first_axis", [0]),
      int64Tensor("face_sizes", [1, 3, S, S]),
      floatTensor("empty", [0], new Float32Array(0)),
      floatTensor("zero", [], Float32Array.of(0)),
      floatTensor("full_scale", [], Float32Array.of(255)),
      floatTensor("lower_half_zero", [1, 1, S, S], mask),
    ],
    node: [
      node("Slice", ["luma", "starts", "ends", "yx"], "y_region"),
      node("Unsqueeze", ["y_region", "first_axis"], "y_1"),
      node("Slice", ["u", "chroma_starts", "chroma_ends", "yx"], "u_region"),
      node("Unsqueeze", ["u_region", "first_axis"], "u_1"),
      node("Slice", ["v", "chroma_starts", "chroma_ends", "yx"], "v_region"),
      node("Unsqueeze", ["v_region", "first_axis"], "v_1"),
      node("Concat", ["u_1", "v_1"], "uv", [int("axis", 0)]),
      node("Cast", ["uv"], "uv_f", [int("to", DataType.FLOAT)]),
      // Each chroma sample repeated over its 2x2 cell: a transposed convolution of stride 2 with a
      // 2x2 kernel of ones per plane (much faster in ONNX Runtime than Resize or Expand).
      node("Unsqueeze", ["uv_f", "first_axis"], "uv_4"),
      node("ConvTranspose", ["uv_4", "cell_ones"], "uv_cells_4", [
        int("group", 2),
        ints("kernel_shape", [2, 2]),
        ints("strides", [2, 2]),
      ]),
      node("Squeeze", ["uv_cells_4", "first_axis"], "uv_cells"),
      node("Slice", ["uv_cells", "phase_starts", "phase_ends", "chroma_yx"], "uv_full"),
      node("Cast", ["y_1"], "y_f", [int("to", DataType.FLOAT)]),
      node("Concat", ["y_f", "uv_full"], "yuv", [int("axis", 0)]),
      node("Unsqueeze", ["yuv", "first_axis"], "yuv_1"),
      // Scaled first, converted after: both are linear, so only 96x96 pixels are converted.
      node("Resize", ["yuv_1", "empty", "empty", "face_sizes"], "yuv_scaled", LINEAR),
      node("Conv", ["yuv_scaled", "to_rgb_weight", "to_rgb_bias"], "rgb_exact"),
      node("Clip", ["rgb_exact", "zero", "full_scale"], "rgb_clipped"),
      node("Round", ["rgb_clipped"], "scaled"),
      node("Gather", ["scaled", "channels"], "ordered", [int("axis", 1)]),
      node("Div", ["ordered", "full_scale"], "unit"),
      node("Mul", ["unit", "lower_half_zero"], "masked"),
      node("Concat", ["masked", "unit"], "face", [int("axis", 1)]),
    ],
  };
}

/**
 * prediction float [1,3,96,96] in [0,1] -> the box's luma [h,w] and chroma [2, h/2, w/2]
 * (uint8, yuv420p). The prediction is quantized to 8-bit rgb (as the rgb24 path did),
 * converted to yuv and scaled to the box; chroma is the mean of each 2x2 cell. Rounding to
 * bytes is a truncating Cast of values offset by 0.5 (in the conversion's bias) and clamped to
 * [0, 255.5]: ONNX Runtime's Round costs more than the rest of the paste. At a box edge on an
 * odd coordinate the box is padded by its edge pixels to whole cells (`pads`, ONNX Pad order),
 * so the chroma cell it shares with the frame takes the box's colour.
 */
function pasteGraph() {
  return {
    name: "face-paste",
    input: [
      { name: "prediction", type: tensorType([1, 3, S, S], DataType.FLOAT) },
      int64Input("sizes", 4),
      int64Input("channels", 3),
      int64Input("pads", 8),
      ...conversionInputs("to_yuv"),
    ],
    output: [
      { name: "luma", type: tensorType(["height", "width"], DataType.UINT8) },
      { name: "chroma", type: tensorType([2, "chroma_height", "chroma_width"], DataType.UINT8) },
    ],
    initializer: [
      int64Tensor("batch_axis", [0]),
      int64Tensor("luma_axes", [0, 1]),
      int64Tensor("channel_axis", [1]),
      int64Tensor("y_start", [0]),
      int64Tensor("uv_start", [1]),
      int64Tensor("uv_end", [3]),
      floatTensor("empty", [0], new Float32Array(0)),
      floatTensor("zero", [], Float32Array.of(0)),
      floatTensor("one", [], Float32Array.of(1)),
      floatTensor("full_scale", [], Float32Array.of(255)),
      floatTensor("byte_ceiling", [], Float32Array.of(255.5)),
    ],
    node: [
      node("Gather", ["prediction", "channels"], "ordered", [int("axis", 1)]),
      node("Clip", ["ordered", "zero", "one"], "clipped"),
      node("Mul", ["clipped", "full_scale"], "levels"),
      node("Round", ["levels"], "quantized"),
      // Converted first, scaled after: both are linear, so only 96x96 pixels are converted.
      node("Conv", ["quantized", "to_yuv_weight", "to_yuv_bias"], "yuv"),
      node("Resize", ["yuv", "empty", "empty", "sizes"], "scaled", LINEAR),
      // Luma of every pixel.
      node("Slice", ["scaled", "y_start", "uv_start", "channel_axis"], "y_exact"),
      node("Clip", ["y_exact", "zero", "byte_ceiling"], "y_clipped"),
      node("Cast", ["y_clipped"], "y_bytes", [int("to", DataType.UINT8)]),
      node("Squeeze", ["y_bytes", "luma_axes"], "luma"),
      // Chroma of every 2x2 cell.
      node("Slice", ["scaled", "uv_start", "uv_end", "channel_axis"], "uv_scaled"),
      node("Pad", ["uv_scaled", "pads"], "uv_cells", [str("mode", "edge")]),
      node("AveragePool", ["uv_cells"], "uv_exact", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
      node("Clip", ["uv_exact", "zero", "byte_ceiling"], "uv_clipped"),
      node("Cast", ["uv_clipped"], "uv_bytes", [int("to", DataType.UINT8)]),
      node("Squeeze", ["uv_bytes", "batch_axis"], "chroma"),
    ],
  };
}

export const buildCropModel = () => encodeModel(cropGraph(), META);
export const buildPasteModel = () => encodeModel(pasteGraph(), META);

/** One frame's size and colours: yuv420p (media/yuv.ts) in `colorMatrix`. */
export interface FrameFormat {
  width: number;
  height: number;
  colorMatrix: ColorMatrix;
}

/** One batch's frames that have a face, each with its box (frames shared with the ops' thread). */
export interface BoxedFrames {
  frames: Uint8Array[];
  rects: Rect[];
  format: FrameFormat;
  order: ChannelOrder;
}

/** Crop and paste over a batch: FrameOps in this thread, or FrameOpsThread (frame-ops-client.ts). */
export interface FaceOps {
  /** Writes frame i's face input into `face` at i * FACE_FLOATS. */
  cropAll(boxed: BoxedFrames, face: Float32Array): Promise<void>;
  /** Pastes prediction i ([3,96,96] at i * 3 * 96 * 96) into frame i. */
  pasteAll(boxed: BoxedFrames, prediction: Float32Array): Promise<void>;
}

/**
 * The two graphs, loaded once per thread that runs them. Their session.run is synchronous
 * on the calling thread; the worker runs them on a thread of their own (frame-ops-client.ts).
 */
export class FrameOps implements FaceOps {
  private readonly cropSession: InferenceSession;
  private readonly pasteSession: InferenceSession;

  private constructor(cropSession: InferenceSession, pasteSession: InferenceSession) {
    this.cropSession = cropSession;
    this.pasteSession = pasteSession;
  }

  static async load(): Promise<FrameOps> {
    // One thread each: they run beside two ffmpeg processes and the model.
    const options: InferenceSession.SessionOptions = {
      executionProviders: ["cpu"],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    };
    const [crop, paste] = await Promise.all([
      InferenceSession.create(buildCropModel(), options),
      InferenceSession.create(buildPasteModel(), options),
    ]);
    return new FrameOps(crop, paste);
  }

  async cropAll(b: BoxedFrames, face: Float32Array): Promise<void> {
    for (const [i, frame] of b.frames.entries())
      await this.crop(
        frame,
        b.format,
        b.rects[i] as Rect,
        b.order,
        face.subarray(i * FACE_FLOATS, (i + 1) * FACE_FLOATS),
      );
  }

  async pasteAll(b: BoxedFrames, prediction: Float32Array): Promise<void> {
    for (const [i, frame] of b.frames.entries())
      await this.paste(
        prediction.subarray(i * PREDICTION_FLOATS, (i + 1) * PREDICTION_FLOATS),
        frame,
        b.format,
        b.rects[i] as Rect,
        b.order,
      );
  }

  /** Writes the face input of `rect` of the yuv420p `frame` into `out` (FACE_FLOATS floats). */
  async crop(
    frame: Uint8Array,
    format: FrameFormat,
    rect: Rect,
    order: ChannelOrder,
    out: Float32Array,
  ): Promise<void> {
    const l = yuvLayout(format.width, format.height);
    const cw = l.chromaWidth;
    // Only the box's rows go in (views, no copy): the graph slices the columns.
    const { x1: cx1, y1: cy1, x2: cx2, y2: cy2 } = chromaCells(rect);
    const h = rect.y2 - rect.y1;
    const w = rect.x2 - rect.x1;
    const py = rect.y1 & 1;
    const px = rect.x1 & 1;
    // onnxruntime-node returns outputs in buffers of its own (a preallocated one is not
    // written through), so the face is copied into the batch's tensor.
    const result = await this.cropSession.run({
      luma: new Tensor("uint8", frame.subarray(rect.y1 * l.width, rect.y2 * l.width), [h, l.width]),
      u: new Tensor("uint8", frame.subarray(l.u + cy1 * cw, l.u + cy2 * cw), [cy2 - cy1, cw]),
      v: new Tensor("uint8", frame.subarray(l.v + cy1 * cw, l.v + cy2 * cw), [cy2 - cy1, cw]),
      starts: longs(0, rect.x1),
      ends: longs(h, rect.x2),
      chroma_starts: longs(0, cx1),
      chroma_ends: longs(cy2 - cy1, cx2),
      phase_starts: longs(py, px),
      phase_ends: longs(py + h, px + w),
      ...colourFeeds("to_rgb", conversions(format.colorMatrix).toRgb, order),
    });
    out.set((result.face as Tensor).data as Float32Array);
  }

  /** Scales a [3,96,96] prediction to `rect` and pastes it into the yuv420p `frame`, row by row. */
  async paste(
    prediction: Float32Array,
    frame: Uint8Array,
    format: FrameFormat,
    rect: Rect,
    order: ChannelOrder,
  ): Promise<void> {
    const l = yuvLayout(format.width, format.height);
    const w = rect.x2 - rect.x1;
    const h = rect.y2 - rect.y1;
    const cells = chromaCells(rect);
    const cw = cells.x2 - cells.x1;
    const ch = cells.y2 - cells.y1;
    const result = await this.pasteSession.run({
      prediction: new Tensor("float32", prediction, [1, 3, S, S]),
      sizes: longs(1, 3, h, w),
      pads: longs(0, 0, rect.y1 & 1, rect.x1 & 1, 0, 0, rect.y2 & 1, rect.x2 & 1),
      ...colourFeeds("to_yuv", conversions(format.colorMatrix).toYuv, order),
    });
    const luma = (result.luma as Tensor).data as Uint8Array;
    const uv = (result.chroma as Tensor).data as Uint8Array;
    copyRows(luma, w, h, frame, rect.y1 * l.width + rect.x1, l.width);
    const at = cells.y1 * l.chromaWidth + cells.x1;
    copyRows(uv.subarray(0, cw * ch), cw, ch, frame, l.u + at, l.chromaWidth);
    copyRows(uv.subarray(cw * ch), cw, ch, frame, l.v + at, l.chromaWidth);
  }

  async release(): Promise<void> {
    await Promise.all([this.cropSession.release(), this.pasteSession.release()]);
  }
}

/** The chroma samples (one per 2x2 pixel cell of yuv420p) of the cells a box touches. */
export const chromaCells = (r: Rect): Rect => ({
  x1: r.x1 >> 1,
  y1: r.y1 >> 1,
  x2: (r.x2 + 1) >> 1,
  y2: (r.y2 + 1) >> 1,
});

/** Both conversions of each matrix, computed once. */
const CONVERSIONS = new Map(
  COLOR_MATRICES.map((m): [ColorMatrix, { toRgb: ColorConversion; toYuv: ColorConversion }] => [
    m,
    { toRgb: yuvToRgb(m), toYuv: offsetByHalf(rgbToYuv(m)) },
  ]),
);
/** The paste's conversion: +0.5, so its truncating Cast rounds. */
function offsetByHalf(c: ColorConversion): ColorConversion {
  return { weight: c.weight, bias: c.bias.map((b) => b + 0.5) };
}
const conversions = (m: ColorMatrix) => CONVERSIONS.get(m) as { toRgb: ColorConversion; toYuv: ColorConversion };
