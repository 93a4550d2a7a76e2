/**
 * The frame path's pixel format: planar yuv420p, limited range, as the decoder delivers it and
 * the encoder takes it, so neither ffmpeg converts colours (docs/architecture.md#frame-path).
 * Only the face crop becomes rgb, inside the crop and paste graphs (frames/frame-ops.ts).
 */

/** The raw frame formats the worker decodes to: yuv420p for the frame path, rgb24 for the face detector. */
export type PixelFormat = "yuv420p" | "rgb24";

/** Where one yuv420p frame's planes lie in its buffer. */
export interface YuvLayout {
  width: number;
  height: number;
  /** Chroma planes: one sample per 2x2 pixels (rounded up at an odd edge). */
  chromaWidth: number;
  chromaHeight: number;
  /** Byte offsets of the U and V planes (Y starts at 0). */
  u: number;
  v: number;
  frameBytes: number;
}

export function yuvLayout(width: number, height: number): YuvLayout {
  const chromaWidth = Math.ceil(width / 2);
  const chromaHeight = Math.ceil(height / 2);
  const u = width * height;
  const v = u + chromaWidth * chromaHeight;
  return { width, height, chromaWidth, chromaHeight, u, v, frameBytes: v + chromaWidth * chromaHeight };
}

/** Bytes of one decoded frame of `width` x `height` in `format`. */
export function frameBytes(format: PixelFormat, width: number, height: number): number {
  return format === "rgb24" ? width * height * 3 : yuvLayout(width, height).frameBytes;
}

/**
 * The YCbCr matrix of a source, by its colour-space tag: what ffmpeg's scaler uses to turn it
 * into rgb (the tag when set, else BT.601), so the crop sees the colours rgb24 decoding gave.
 */
export const COLOR_MATRICES = ["bt601", "bt709", "bt2020", "smpte240m", "fcc"] as const;
export type ColorMatrix = (typeof COLOR_MATRICES)[number];

/** Luma weights (Kr, Kb) of each matrix. */
const WEIGHTS: Record<ColorMatrix, [number, number]> = {
  bt601: [0.299, 0.114],
  bt709: [0.2126, 0.0722],
  bt2020: [0.2627, 0.0593],
  smpte240m: [0.212, 0.087],
  fcc: [0.3, 0.11],
};

/** ffprobe's color_space value -> the matrix ffmpeg applies to it. */
export function colorMatrixOf(colorSpace: string | undefined): ColorMatrix {
  switch (colorSpace) {
    case "bt709":
      return "bt709";
    case "bt2020nc":
    case "bt2020c":
      return "bt2020";
    case "smpte240m":
      return "smpte240m";
    case "fcc":
      return "fcc";
    default:
      return "bt601"; // unspecified, bt470bg, smpte170m: ffmpeg's default
  }
}

/** The ffmpeg -colorspace name the encoder tags its output with. */
export const colorSpaceTag = (m: ColorMatrix): string =>
  m === "bt601" ? "smpte170m" : m === "bt2020" ? "bt2020nc" : m;

/**
 * A colour conversion as a 1x1 convolution: out[i] = sum_j weight[i*3+j] * in[j] + bias[i].
 * Limited range: Y in 16..235, U and V in 16..240 around 128; rgb in 0..255.
 */
export interface ColorConversion {
  weight: Float32Array;
  bias: Float32Array;
}

/** rgb (0..255) -> limited-range yuv. */
export function rgbToYuv(m: ColorMatrix): ColorConversion {
  const [kr, kb] = WEIGHTS[m];
  const kg = 1 - kr - kb;
  const y = 219 / 255;
  const c = 224 / 255;
  const weight = Float32Array.of(
    ...[kr * y, kg * y, kb * y],
    ...[(-kr / (2 * (1 - kb))) * c, (-kg / (2 * (1 - kb))) * c, 0.5 * c],
    ...[0.5 * c, (-kg / (2 * (1 - kr))) * c, (-kb / (2 * (1 - kr))) * c],
  );
  return { weight, bias: Float32Array.of(16, 128, 128) };
}

/** Limited-range yuv -> rgb (0..255, before clamping): rgbToYuv inverted. */
export function yuvToRgb(m: ColorMatrix): ColorConversion {
  const { weight: w, bias: b } = rgbToYuv(m);
  const at = (r: number, c: number) => w[3 * r + c] as number;
  // The inverse of a 3x3 matrix: its adjugate over its determinant.
  const cofactor = (r: number, c: number) => {
    const [r1, r2] = [0, 1, 2].filter((x) => x !== r) as [number, number];
    const [c1, c2] = [0, 1, 2].filter((x) => x !== c) as [number, number];
    return ((r + c) % 2 ? -1 : 1) * (at(r1, c1) * at(r2, c2) - at(r1, c2) * at(r2, c1));
  };
  const det = at(0, 0) * cofactor(0, 0) + at(0, 1) * cofactor(0, 1) + at(0, 2) * cofactor(0, 2);
  const inverse = Array.from({ length: 9 }, (_, i) => cofactor(i % 3, Math.floor(i / 3)) / det);
  // in = W^-1 (out - b): the bias is -W^-1 b.
  const bias = [0, 1, 2].map(
    (r) => -[0, 1, 2].reduce((sum, c) => sum + (inverse[3 * r + c] as number) * (b[c] as number), 0),
  );
  return { weight: Float32Array.from(inverse), bias: Float32Array.from(bias) };
}
