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

/** Limited-range yuv -> rgb (0..255, before clamping): the inverse of rgbToYuv. */
export function yuvToRgb(m: ColorMatrix): ColorConversion {
  const [kr, kb] = WEIGHTS[m];
  const kg = 1 - kr - kb;
  const y = 255 / 219;
  const c = 255 / 224;
  const weight = Float32Array.of(
    ...[y, 0, 2 * (1 - kr) * c],
    ...[y, ((-2 * (1 - kb) * kb) / kg) * c, ((-2 * (1 - kr) * kr) / kg) * c],
    ...[y, 2 * (1 - kb) * c, 0],
  );
  // bias = -weight * (16, 128, 128)
  const bias = new Float32Array(3);
  for (let i = 0; i < 3; i++)
    bias[i] = -(16 * (weight[i * 3] as number) + 128 * ((weight[i * 3 + 1] as number) + (weight[i * 3 + 2] as number)));
  return { weight, bias };
}
