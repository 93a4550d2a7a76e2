/**
 * What the crop and paste graphs of both frame paths share (frame-ops.ts for lip-sync,
 * adapters/inswapper/warp-ops.ts for face swap; docs/architecture.md#frame-path): how their
 * inputs are declared, the feeds JavaScript hands them, and the copy of a pasted patch back.
 */
import { Tensor } from "onnxruntime-node";
import type { ColorConversion } from "../media/yuv.ts";
import { DataType, tensorType } from "../onnx-schema.ts";
import type { ChannelOrder } from "./frame-ops.ts";

/** Which of the crop's rgb channels feed the model's channels 0..2 (and come back from it). */
const CHANNELS: Record<ChannelOrder, BigInt64Array> = {
  rgb: BigInt64Array.from([0n, 1n, 2n]),
  bgr: BigInt64Array.from([2n, 1n, 0n]), // its own inverse: the prediction comes back the same way
};

/** A uint8 plane input (luma or chroma rows). */
export const plane = (name: string, dims: (number | string)[]) => ({ name, type: tensorType(dims, DataType.UINT8) });
/** An int64 vector input of `length` (slice starts and ends, sizes). */
export const int64Input = (name: string, length: number) => ({ name, type: tensorType([length], DataType.INT64) });
/** A colour conversion as a 1x1 convolution (media/yuv.ts). */
export const conversionInputs = (prefix: string) => [
  { name: `${prefix}_weight`, type: tensorType([3, 3, 1, 1]) },
  { name: `${prefix}_bias`, type: tensorType([3]) },
];

/** The feeds of a colour conversion (inputs `prefix`_weight and `prefix`_bias) and of the channel order. */
export const colourFeeds = (prefix: "to_rgb" | "to_yuv", c: ColorConversion, order: ChannelOrder) => ({
  [`${prefix}_weight`]: new Tensor("float32", c.weight, [3, 3, 1, 1]),
  [`${prefix}_bias`]: new Tensor("float32", c.bias, [3]),
  channels: new Tensor("int64", CHANNELS[order], [3]),
});

/** An int64 vector feed. */
export const longs = (...values: number[]) => new Tensor("int64", BigInt64Array.from(values, BigInt), [values.length]);

/** Copies a w x h patch into a plane `stride` bytes wide at `offset` (one native copy per row). */
export function copyRows(
  patch: Uint8Array,
  w: number,
  h: number,
  plane: Uint8Array,
  offset: number,
  stride: number,
): void {
  if (w === stride) plane.set(patch.subarray(0, w * h), offset);
  else for (let y = 0; y < h; y++) plane.set(patch.subarray(y * w, (y + 1) * w), offset + y * stride);
}
