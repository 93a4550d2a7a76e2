/**
 * The face swap's aligned crop and inverse paste on yuv420p frames, as ONNX graphs run by
 * ONNX Runtime's native kernels on the frame-ops thread (docs/architecture.md#face-swap), like
 * the lip-sync crop and paste (frames/frame-ops.ts). JavaScript never touches a frame's pixels:
 * it computes the face's transform and the region of the frame it covers, hands the graphs the
 * region's rows, and copies the pasted region's rows back.
 *
 * Both graphs sample with GridSample (opset 16, bilinear, pixel centres at half-pixel
 * positions) on a grid made in the graph from an affine map of output pixel -> normalized input
 * position, so the transform may change every frame.
 * - crop: frame region -> [1,3,S,S] RGB in [0,1] (OpenCV's warpAffine with replicated borders);
 * - paste: the model's [1,3,S,S] and a feathered [S,S] mask warped back over the region,
 *   blended there as mask * face + (1 - mask) * frame, in yuv (the blend is linear, so blending
 *   after the conversion is the same), luma per pixel and chroma per 2x2 cell.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ChannelOrder, FrameFormat, Rect } from "../../frames/frame-ops.ts";
import { colourFeeds, conversionInputs, copyRows, int64Input, longs, plane } from "../../frames/graph-io.ts";
import {
  COLOR_MATRICES,
  type ColorConversion,
  type ColorMatrix,
  rgbToYuv,
  yuvLayout,
  yuvToRgb,
} from "../../media/yuv.ts";
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
} from "../../onnx-schema.ts";
import { type Affine, applyAffine, invertAffine } from "../arcface/alignment.ts";

const META = {
  producer: "mediaq swap-ops",
  doc: "mediaq aligned face crop and paste (docs/architecture.md#face-swap)",
  opset: 16,
};
/** The frame region's planes: luma rows, chroma rows, and where the region's columns lie. */
const REGION_INPUTS = [
  plane("luma", ["rows", "width"]),
  plane("u", ["chroma_rows", "chroma_width"]),
  plane("v", ["chroma_rows", "chroma_width"]),
  int64Input("starts", 2),
  int64Input("ends", 2),
  int64Input("chroma_starts", 2),
  int64Input("chroma_ends", 2),
];
/** Output pixel (x, y) -> normalized sampling position: [x, y, 1] @ grid_affine ([3,2]). */
const GRID_INPUT = { name: "grid_affine", type: tensorType([3, 2]) };

const COMMON_INITIALIZERS = [
  int64Tensor("yx", [0, 1]),
  int64Tensor("first_axis", [0]),
  int64Tensor("index_0", [0]),
  int64Tensor("index_1", [1]),
  int64Tensor("index_2", [2]),
  floatTensor("zero", [], Float32Array.of(0)),
  floatTensor("full_scale", [], Float32Array.of(255)),
  int64Tensor("xs_shape", [1, -1, 1]),
  int64Tensor("ys_shape", [-1, 1, 1]),
  int64Tensor("zero_long", [0]),
  int64Tensor("one_long", [1]),
];

/** The luma region [h,w] (y_region) and its yuv as float [1,3,h,w] (chroma repeated over its 2x2 cells). */
function regionNodes() {
  return [
    node("Slice", ["luma", "starts", "ends", "yx"], "y_region"),
    node("Shape", ["y_region"], "region_size"),
    node("Slice", ["u", "chroma_starts", "chroma_ends", "yx"], "u_region"),
    node("Unsqueeze", ["u_region", "first_axis"], "u_1"),
    node("Slice", ["v", "chroma_starts", "chroma_ends", "yx"], "v_region"),
    node("Unsqueeze", ["v_region", "first_axis"], "v_1"),
    node("Concat", ["u_1", "v_1"], "uv", [int("axis", 0)]),
    node("Cast", ["uv"], "uv_f", [int("to", DataType.FLOAT)]),
    node("Unsqueeze", ["uv_f", "first_axis"], "uv_4"),
  ];
}

/** grid [1,h,w,2] for an output of size `size` ([h, w] int64): [x, y, 1] @ grid_affine per pixel. */
function gridNodes(size: string) {
  return [
    node("Gather", [size, "index_0"], "grid_h"),
    node("Gather", [size, "index_1"], "grid_w"),
    node("Squeeze", ["grid_h", "first_axis"], "grid_h_scalar"),
    node("Squeeze", ["grid_w", "first_axis"], "grid_w_scalar"),
    node("Range", ["zero_long_scalar", "grid_w_scalar", "one_long_scalar"], "xs_long"),
    node("Range", ["zero_long_scalar", "grid_h_scalar", "one_long_scalar"], "ys_long"),
    node("Cast", ["xs_long"], "xs_flat", [int("to", DataType.FLOAT)]),
    node("Cast", ["ys_long"], "ys_flat", [int("to", DataType.FLOAT)]),
    node("Reshape", ["xs_flat", "xs_shape"], "xs"),
    node("Reshape", ["ys_flat", "ys_shape"], "ys"),
    node("Gather", ["grid_affine", "index_0"], "per_x", [int("axis", 0)]),
    node("Gather", ["grid_affine", "index_1"], "per_y", [int("axis", 0)]),
    node("Gather", ["grid_affine", "index_2"], "at_origin", [int("axis", 0)]),
    node("Mul", ["xs", "per_x"], "grid_x_part"),
    node("Mul", ["ys", "per_y"], "grid_y_part"),
    node("Add", ["grid_x_part", "grid_y_part"], "grid_xy"),
    node("Add", ["grid_xy", "at_origin"], "grid_hw"),
    node("Unsqueeze", ["grid_hw", "first_axis"], "grid"),
  ];
}
const SCALAR_LONGS = [
  node("Squeeze", ["zero_long", "first_axis"], "zero_long_scalar"),
  node("Squeeze", ["one_long", "first_axis"], "one_long_scalar"),
];
const gridSample = (input: string, out: string, padding: "border" | "zeros") =>
  node("GridSample", [input, "grid"], out, [
    str("mode", "bilinear"),
    str("padding_mode", padding),
    int("align_corners", 0),
  ]);

/**
 * Frame region -> the aligned face [1,3,S,S] in [0,1], in the model's channel order. The
 * region's chroma is repeated 2x2 (as ffmpeg's yuv420p -> rgb24 does), sampled on the grid
 * together with the luma, then converted to rgb (clamped and rounded as rgb24 is).
 */
function cropGraph(size: number) {
  return {
    name: `swap-crop-${size}`,
    input: [...REGION_INPUTS, GRID_INPUT, ...conversionInputs("to_rgb"), int64Input("channels", 3)],
    output: [{ name: "face", type: tensorType([1, 3, size, size], DataType.FLOAT) }],
    initializer: [
      ...COMMON_INITIALIZERS,
      int64Tensor("out_size", [size, size]),
      int64Tensor("chroma_yx", [1, 2]),
      floatTensor("cell_ones", [2, 1, 2, 2], new Float32Array(8).fill(1)),
    ],
    node: [
      ...SCALAR_LONGS,
      ...regionNodes(),
      node("ConvTranspose", ["uv_4", "cell_ones"], "uv_cells_4", [
        int("group", 2),
        ints("kernel_shape", [2, 2]),
        ints("strides", [2, 2]),
      ]),
      node("Squeeze", ["uv_cells_4", "first_axis"], "uv_cells"),
      node("Concat", ["zero_long", "zero_long"], "origin", [int("axis", 0)]),
      node("Slice", ["uv_cells", "origin", "region_size", "chroma_yx"], "uv_full"),
      node("Cast", ["y_region"], "y_f", [int("to", DataType.FLOAT)]),
      node("Unsqueeze", ["y_f", "first_axis"], "y_1"),
      node("Concat", ["y_1", "uv_full"], "yuv", [int("axis", 0)]),
      node("Unsqueeze", ["yuv", "first_axis"], "yuv_region"),
      ...gridNodes("out_size"),
      gridSample("yuv_region", "yuv_face", "border"),
      node("Conv", ["yuv_face", "to_rgb_weight", "to_rgb_bias"], "rgb_exact"),
      node("Clip", ["rgb_exact", "zero", "full_scale"], "rgb_clipped"),
      node("Round", ["rgb_clipped"], "rgb_levels"),
      node("Gather", ["rgb_levels", "channels"], "ordered", [int("axis", 1)]),
      node("Div", ["ordered", "full_scale"], "face"),
    ],
  };
}

/**
 * The model's face [1,3,S,S] and the mask [1,1,S,S] -> the region's new luma [h,w] and chroma
 * [2, ceil(h/2), ceil(w/2)] (uint8). The face is quantized to 8-bit rgb (as insightface does),
 * converted to yuv, multiplied by the mask, and sampled on the grid with the mask (zeros outside
 * the crop): warped = (mask * face, mask). Luma = warped face + (1 - warped mask) * frame;
 * chroma the same over each 2x2 cell's means (`pads` repeats the edge of a region that ends on an
 * odd frame edge). Bytes are made by a truncating Cast of values offset by 0.5: a pixel the mask
 * does not reach comes back exactly as it was.
 */
function pasteGraph(size: number) {
  return {
    name: `swap-paste-${size}`,
    input: [
      { name: "prediction", type: tensorType([1, 3, size, size], DataType.FLOAT) },
      { name: "mask", type: tensorType([1, 1, size, size], DataType.FLOAT) },
      ...REGION_INPUTS,
      GRID_INPUT,
      int64Input("pads", 8),
      ...conversionInputs("to_yuv"),
      int64Input("channels", 3),
    ],
    output: [
      { name: "luma_out", type: tensorType(["height", "width"], DataType.UINT8) },
      { name: "chroma_out", type: tensorType([2, "chroma_height", "chroma_width"], DataType.UINT8) },
    ],
    initializer: [
      ...COMMON_INITIALIZERS,
      int64Tensor("channel_axis", [1]),
      int64Tensor("luma_axes", [0, 1]),
      int64Tensor("c0", [0]),
      int64Tensor("c1", [1]),
      int64Tensor("c3", [3]),
      int64Tensor("c4", [4]),
      floatTensor("one", [], Float32Array.of(1)),
      floatTensor("half", [], Float32Array.of(0.5)),
      floatTensor("byte_ceiling", [], Float32Array.of(255.5)),
    ],
    node: [
      ...SCALAR_LONGS,
      node("Gather", ["prediction", "channels"], "ordered", [int("axis", 1)]),
      node("Clip", ["ordered", "zero", "one"], "clipped"),
      node("Mul", ["clipped", "full_scale"], "levels"),
      node("Round", ["levels"], "quantized"),
      node("Conv", ["quantized", "to_yuv_weight", "to_yuv_bias"], "face_yuv"),
      node("Mul", ["face_yuv", "mask"], "masked_face"),
      node("Concat", ["masked_face", "mask"], "face_and_mask", [int("axis", 1)]),
      ...regionNodes(),
      ...gridNodes("region_size"),
      gridSample("face_and_mask", "warped", "zeros"),
      // Luma of every pixel.
      node("Slice", ["warped", "c0", "c1", "channel_axis"], "warped_y"),
      node("Slice", ["warped", "c3", "c4", "channel_axis"], "warped_mask"),
      node("Sub", ["one", "warped_mask"], "keep"),
      node("Cast", ["y_region"], "y_f", [int("to", DataType.FLOAT)]),
      node("Mul", ["y_f", "keep"], "y_kept"),
      node("Add", ["y_kept", "warped_y"], "y_blend"),
      node("Add", ["y_blend", "half"], "y_offset"),
      node("Clip", ["y_offset", "zero", "byte_ceiling"], "y_clipped"),
      node("Cast", ["y_clipped"], "y_bytes", [int("to", DataType.UINT8)]),
      node("Squeeze", ["y_bytes", "luma_axes"], "luma_out"),
      // Chroma of every 2x2 cell.
      node("Slice", ["warped", "c1", "c4", "channel_axis"], "warped_uvm"),
      node("Pad", ["warped_uvm", "pads"], "uvm_cells", [str("mode", "edge")]),
      node("AveragePool", ["uvm_cells"], "uvm", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
      node("Slice", ["uvm", "c0", "index_2", "channel_axis"], "cell_uv"),
      node("Slice", ["uvm", "index_2", "c3", "channel_axis"], "cell_mask"),
      node("Sub", ["one", "cell_mask"], "cell_keep"),
      node("Mul", ["uv_4", "cell_keep"], "uv_kept"),
      node("Add", ["uv_kept", "cell_uv"], "uv_blend"),
      node("Add", ["uv_blend", "half"], "uv_offset"),
      node("Clip", ["uv_offset", "zero", "byte_ceiling"], "uv_clipped"),
      node("Cast", ["uv_clipped"], "uv_bytes", [int("to", DataType.UINT8)]),
      node("Squeeze", ["uv_bytes", "first_axis"], "chroma_out"),
    ],
  };
}

export const buildSwapCropModel = (size: number) => encodeModel(cropGraph(size), META);
export const buildSwapPasteModel = (size: number) => encodeModel(pasteGraph(size), META);

/** The frame region a face's crop covers: its square's corners mapped into the frame, grown by the sampling's reach. */
export function cropRegion(toCrop: Affine, size: number, width: number, height: number): Rect | null {
  const back = invertAffine(toCrop);
  const corners = [
    [-1, -1],
    [size, -1],
    [-1, size],
    [size, size],
  ].map((c) => applyAffine(back, c as [number, number]));
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  // Even starts and ends (the chroma cells), clipped to the frame.
  const x1 = Math.max(0, 2 * Math.floor((Math.floor(Math.min(...xs)) - 1) / 2));
  const y1 = Math.max(0, 2 * Math.floor((Math.floor(Math.min(...ys)) - 1) / 2));
  const x2 = Math.min(width, 2 * Math.ceil((Math.ceil(Math.max(...xs)) + 2) / 2));
  const y2 = Math.min(height, 2 * Math.ceil((Math.ceil(Math.max(...ys)) + 2) / 2));
  if (!Number.isFinite(x1 + y1 + x2 + y2) || x2 - x1 < 2 || y2 - y1 < 2) return null;
  return { x1, y1, x2, y2 };
}

/** Crop pixel -> the region's normalized position (GridSample, align_corners=0). */
function cropGrid(toCrop: Affine, r: Rect): Float32Array {
  const [a, b, c, d, e, f] = invertAffine(toCrop);
  const sx = 2 / (r.x2 - r.x1);
  const sy = 2 / (r.y2 - r.y1);
  return Float32Array.of(sx * a, sy * d, sx * b, sy * e, sx * (c - r.x1 + 0.5) - 1, sy * (f - r.y1 + 0.5) - 1);
}

/** Region pixel -> the crop's normalized position. */
function pasteGrid(toCrop: Affine, r: Rect, size: number): Float32Array {
  const [a, b, c, d, e, f] = toCrop;
  const s = 2 / size;
  return Float32Array.of(
    s * a,
    s * d,
    s * b,
    s * e,
    s * (a * r.x1 + b * r.y1 + c) + 1 / size - 1,
    s * (d * r.x1 + e * r.y1 + f) + 1 / size - 1,
  );
}

/** One batch of frames with a face to swap: each frame's transform frame -> crop. */
export interface AlignedFrames {
  frames: Uint8Array[];
  transforms: Affine[];
  format: FrameFormat;
  order: ChannelOrder;
  size: number;
}

/** The aligned crop and paste over a batch: SwapOps in this thread, or on the frame-ops thread. */
export interface AlignedOps {
  /** Writes frame i's aligned face ([3,S,S]) into `faces` at i * 3 * S * S. */
  cropAligned(aligned: AlignedFrames, faces: Float32Array): Promise<void>;
  /** Pastes face i of `faces` into frame i through `mask` ([S,S]). */
  pasteAligned(aligned: AlignedFrames, faces: Float32Array, mask: Float32Array): Promise<void>;
}

/** The graphs per crop size, loaded on first use in the thread that runs them. */
export class SwapOps implements AlignedOps {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();

  private session(kind: "crop" | "paste", size: number): Promise<InferenceSession> {
    const key = `${kind}:${size}`;
    let session = this.sessions.get(key);
    if (!session) {
      // One thread each: they run beside two ffmpeg processes and the model.
      session = InferenceSession.create(kind === "crop" ? buildSwapCropModel(size) : buildSwapPasteModel(size), {
        executionProviders: ["cpu"],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      });
      this.sessions.set(key, session);
    }
    return session;
  }

  async cropAligned(a: AlignedFrames, faces: Float32Array): Promise<void> {
    const n = 3 * a.size * a.size;
    for (const [i, frame] of a.frames.entries())
      await this.crop(frame, a.format, a.transforms[i] as Affine, a.size, a.order, faces.subarray(i * n, (i + 1) * n));
  }

  async pasteAligned(a: AlignedFrames, faces: Float32Array, mask: Float32Array): Promise<void> {
    const n = 3 * a.size * a.size;
    for (const [i, frame] of a.frames.entries())
      await this.paste(
        faces.subarray(i * n, (i + 1) * n),
        mask,
        frame,
        a.format,
        a.transforms[i] as Affine,
        a.size,
        a.order,
      );
  }

  /**
   * Writes the aligned face of `frame` ([3,size,size] in [0,1]) into `out`; a face whose crop
   * lies wholly outside the frame gives the frame's nearest edge, as replicated borders do.
   */
  async crop(
    frame: Uint8Array,
    format: FrameFormat,
    toCrop: Affine,
    size: number,
    order: ChannelOrder,
    out: Float32Array,
  ): Promise<void> {
    const r = cropRegion(toCrop, size, format.width, format.height) ?? nearestEdge(toCrop, size, format);
    const session = await this.session("crop", size);
    const result = await session.run({
      ...regionFeeds(frame, format, r),
      grid_affine: new Tensor("float32", cropGrid(toCrop, r), [3, 2]),
      ...colourFeeds("to_rgb", conversions(format.colorMatrix).toRgb, order),
    });
    out.set((result.face as Tensor).data as Float32Array);
  }

  /** Pastes `face` ([3,size,size] in [0,1]) back where `toCrop` took it from, through `mask`. */
  async paste(
    face: Float32Array,
    mask: Float32Array,
    frame: Uint8Array,
    format: FrameFormat,
    toCrop: Affine,
    size: number,
    order: ChannelOrder,
  ): Promise<void> {
    const r = cropRegion(toCrop, size, format.width, format.height);
    if (!r) return; // the crop lies outside the frame: nothing to paste
    const l = yuvLayout(format.width, format.height);
    const session = await this.session("paste", size);
    const result = await session.run({
      prediction: new Tensor("float32", face, [1, 3, size, size]),
      mask: new Tensor("float32", mask, [1, 1, size, size]),
      ...regionFeeds(frame, format, r),
      grid_affine: new Tensor("float32", pasteGrid(toCrop, r, size), [3, 2]),
      pads: longs(0, 0, 0, 0, 0, 0, (r.y2 - r.y1) & 1, (r.x2 - r.x1) & 1),
      ...colourFeeds("to_yuv", conversions(format.colorMatrix).toYuv, order),
    });
    const w = r.x2 - r.x1;
    const h = r.y2 - r.y1;
    const cw = (w + 1) >> 1;
    const ch = (h + 1) >> 1;
    const luma = (result.luma_out as Tensor).data as Uint8Array;
    const uv = (result.chroma_out as Tensor).data as Uint8Array;
    copyRows(luma, w, h, frame, r.y1 * l.width + r.x1, l.width);
    const at = (r.y1 >> 1) * l.chromaWidth + (r.x1 >> 1);
    copyRows(uv.subarray(0, cw * ch), cw, ch, frame, l.u + at, l.chromaWidth);
    copyRows(uv.subarray(cw * ch), cw, ch, frame, l.v + at, l.chromaWidth);
  }

  async release(): Promise<void> {
    const sessions = await Promise.all(this.sessions.values());
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }
}

/** The 2x2 block of the frame nearest the crop, for a crop wholly outside it. */
function nearestEdge(toCrop: Affine, size: number, format: FrameFormat): Rect {
  const [cx, cy] = applyAffine(invertAffine(toCrop), [size / 2, size / 2]);
  const even = (v: number, limit: number) =>
    Math.min(Math.max(0, 2 * Math.floor(v / 2)), 2 * Math.floor((limit - 2) / 2));
  const x1 = even(cx, format.width);
  const y1 = even(cy, format.height);
  return { x1, y1, x2: x1 + 2, y2: y1 + 2 };
}

/** The region's rows of the frame's planes (views, no copy) and where its columns lie. */
function regionFeeds(frame: Uint8Array, format: FrameFormat, r: Rect): Record<string, Tensor> {
  const l = yuvLayout(format.width, format.height);
  const cw = l.chromaWidth;
  const h = r.y2 - r.y1;
  const cy1 = r.y1 >> 1;
  const cy2 = (r.y2 + 1) >> 1;
  return {
    luma: new Tensor("uint8", frame.subarray(r.y1 * l.width, r.y2 * l.width), [h, l.width]),
    u: new Tensor("uint8", frame.subarray(l.u + cy1 * cw, l.u + cy2 * cw), [cy2 - cy1, cw]),
    v: new Tensor("uint8", frame.subarray(l.v + cy1 * cw, l.v + cy2 * cw), [cy2 - cy1, cw]),
    starts: longs(0, r.x1),
    ends: longs(h, r.x2),
    chroma_starts: longs(0, r.x1 >> 1),
    chroma_ends: longs(cy2 - cy1, (r.x2 + 1) >> 1),
  };
}

const CONVERSIONS = new Map(
  COLOR_MATRICES.map((m): [ColorMatrix, { toRgb: ColorConversion; toYuv: ColorConversion }] => [
    m,
    { toRgb: yuvToRgb(m), toYuv: rgbToYuv(m) },
  ]),
);
const conversions = (m: ColorMatrix) => CONVERSIONS.get(m) as { toRgb: ColorConversion; toYuv: ColorConversion };
