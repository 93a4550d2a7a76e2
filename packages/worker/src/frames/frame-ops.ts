/**
 * Crop-and-scale of the face region and paste of the prediction, as two tiny ONNX graphs run
 * by ONNX Runtime's native kernels: JavaScript never touches a full frame's pixels, only copies
 * the pasted patch's rows into the frame (docs/architecture.md#frame-path).
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

/** Side of Wav2Lip's square face input and output. */
export const FACE_SIZE = 96;
const S = FACE_SIZE;
const PLANE = S * S;
/** Floats of one frame's face input: (masked crop, crop) as 6 planes. */
export const FACE_FLOATS = 6 * PLANE;

/** A crop rectangle in pixels: [x1, x2) x [y1, y2). */
export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Which of the frame's rgb channels feed the model's channels 0..2 (and come back from it). */
export type ChannelOrder = "rgb" | "bgr";
const CHANNELS: Record<ChannelOrder, BigInt64Array> = {
  rgb: BigInt64Array.from([0n, 1n, 2n]),
  bgr: BigInt64Array.from([2n, 1n, 0n]), // its own inverse: the prediction comes back the same way
};

const LINEAR = [str("coordinate_transformation_mode", "half_pixel"), str("mode", "linear")];
const META = { producer: "mediaq frame-ops", doc: "mediaq face crop and paste (docs/architecture.md#frame-path)" };

/**
 * frame uint8 [H,W,3], starts [y1,x1], ends [y2,x2], channels [3] -> face float [1,6,96,96]:
 * the region scaled to 96x96 in [0,1], first with its lower half zeroed (hidden from the
 * model, as Wav2Lip does), then whole.
 */
function cropGraph() {
  const mask = new Float32Array(PLANE);
  mask.fill(1, 0, PLANE / 2);
  return {
    name: "face-crop",
    input: [
      { name: "frame", type: tensorType(["height", "width", 3], DataType.UINT8) },
      { name: "starts", type: tensorType([2], DataType.INT64) },
      { name: "ends", type: tensorType([2], DataType.INT64) },
      { name: "channels", type: tensorType([3], DataType.INT64) },
    ],
    output: [{ name: "face", type: tensorType([1, 6, S, S], DataType.FLOAT) }],
    initializer: [
      int64Tensor("yx", [0, 1]),
      int64Tensor("batch_axis", [0]),
      int64Tensor("face_sizes", [1, 3, S, S]),
      floatTensor("empty", [0], new Float32Array(0)),
      floatTensor("full_scale", [], Float32Array.of(255)),
      floatTensor("lower_half_zero", [1, 1, S, S], mask),
    ],
    node: [
      node("Slice", ["frame", "starts", "ends", "yx"], "region"),
      node("Cast", ["region"], "region_f", [int("to", DataType.FLOAT)]),
      node("Transpose", ["region_f"], "planar", [ints("perm", [2, 0, 1])]),
      node("Unsqueeze", ["planar", "batch_axis"], "planar_1"),
      node("Resize", ["planar_1", "empty", "empty", "face_sizes"], "scaled", LINEAR),
      node("Gather", ["scaled", "channels"], "ordered", [int("axis", 1)]),
      node("Div", ["ordered", "full_scale"], "unit"),
      node("Mul", ["unit", "lower_half_zero"], "masked"),
      node("Concat", ["masked", "unit"], "face", [int("axis", 1)]),
    ],
  };
}

/**
 * prediction float [1,3,96,96] in [0,1], sizes [1,3,h,w], channels [3] -> patch uint8 [h,w,3]:
 * quantized to 8 bits, scaled to the crop's size, interleaved as the frame is.
 */
function pasteGraph() {
  return {
    name: "face-paste",
    input: [
      { name: "prediction", type: tensorType([1, 3, S, S], DataType.FLOAT) },
      { name: "sizes", type: tensorType([4], DataType.INT64) },
      { name: "channels", type: tensorType([3], DataType.INT64) },
    ],
    output: [{ name: "patch", type: tensorType(["height", "width", 3], DataType.UINT8) }],
    initializer: [
      int64Tensor("batch_axis", [0]),
      floatTensor("empty", [0], new Float32Array(0)),
      floatTensor("zero", [], Float32Array.of(0)),
      floatTensor("one", [], Float32Array.of(1)),
      floatTensor("full_scale", [], Float32Array.of(255)),
    ],
    node: [
      node("Gather", ["prediction", "channels"], "ordered", [int("axis", 1)]),
      node("Clip", ["ordered", "zero", "one"], "clipped"),
      node("Mul", ["clipped", "full_scale"], "levels"),
      node("Round", ["levels"], "quantized"),
      node("Resize", ["quantized", "empty", "empty", "sizes"], "scaled", LINEAR),
      node("Round", ["scaled"], "rounded"),
      node("Cast", ["rounded"], "bytes", [int("to", DataType.UINT8)]),
      node("Squeeze", ["bytes", "batch_axis"], "planar"),
      node("Transpose", ["planar"], "patch", [ints("perm", [1, 2, 0])]),
    ],
  };
}

export const buildCropModel = () => encodeModel(cropGraph(), META);
export const buildPasteModel = () => encodeModel(pasteGraph(), META);

/** One frame's size: rgb24, width * height * 3 bytes. */
export interface FrameSize {
  width: number;
  height: number;
}

/**
 * The two graphs loaded once per process. Their session.run is synchronous on the calling
 * thread and takes well under a millisecond for a face-sized crop, so the frame path calls
 * them on the main thread, next to the frames (no full frame crosses a thread).
 */
export class FrameOps {
  private readonly cropSession: InferenceSession;
  private readonly pasteSession: InferenceSession;

  private constructor(cropSession: InferenceSession, pasteSession: InferenceSession) {
    this.cropSession = cropSession;
    this.pasteSession = pasteSession;
  }

  static async load(): Promise<FrameOps> {
    // One thread each: they run between pipe reads on the main thread, beside two ffmpeg processes.
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

  /** Writes the face input of `rect` of `frame` into `out` (FACE_FLOATS floats). */
  async crop(frame: Uint8Array, size: FrameSize, rect: Rect, order: ChannelOrder, out: Float32Array): Promise<void> {
    // Only the box's rows go in (a view, no copy): the graph slices the columns.
    const rows = frame.subarray(rect.y1 * size.width * 3, rect.y2 * size.width * 3);
    const result = await this.cropSession.run(
      {
        frame: new Tensor("uint8", rows, [rect.y2 - rect.y1, size.width, 3]),
        starts: new Tensor("int64", BigInt64Array.of(0n, BigInt(rect.x1)), [2]),
        ends: new Tensor("int64", BigInt64Array.of(BigInt(rect.y2 - rect.y1), BigInt(rect.x2)), [2]),
        channels: new Tensor("int64", CHANNELS[order], [3]),
      },
      // Written in place: `out` is this frame's slice of the batch's face tensor.
      { face: new Tensor("float32", out, [1, 6, S, S]) },
    );
    if ((result.face as Tensor).data !== out) out.set((result.face as Tensor).data as Float32Array);
  }

  /** Scales a [3,96,96] prediction to `rect` and pastes it into `frame`, row by row. */
  async paste(
    prediction: Float32Array,
    frame: Uint8Array,
    size: FrameSize,
    rect: Rect,
    order: ChannelOrder,
  ): Promise<void> {
    const w = rect.x2 - rect.x1;
    const h = rect.y2 - rect.y1;
    const result = await this.pasteSession.run({
      prediction: new Tensor("float32", prediction, [1, 3, S, S]),
      sizes: new Tensor("int64", BigInt64Array.of(1n, 3n, BigInt(h), BigInt(w)), [4]),
      channels: new Tensor("int64", CHANNELS[order], [3]),
    });
    const patch = result.patch as Tensor;
    const bytes = patch.data as Uint8Array;
    const row = w * 3;
    if (w === size.width) frame.set(bytes, rect.y1 * row);
    else
      for (let y = 0; y < h; y++)
        frame.set(bytes.subarray(y * row, (y + 1) * row), ((rect.y1 + y) * size.width + rect.x1) * 3);
    patch.dispose();
  }

  async release(): Promise<void> {
    await Promise.all([this.cropSession.release(), this.pasteSession.release()]);
  }
}
