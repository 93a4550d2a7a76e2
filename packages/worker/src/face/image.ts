import type { Rect } from "../frames/frame-ops.ts";

/** Interleaved 8-bit RGB image (rgb24), as ffmpeg delivers frames. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type { Rect } from "../frames/frame-ops.ts";

/**
 * Bilinear resize of the `rect` region of `src` to outW x outH, with half-pixel centres
 * like OpenCV's INTER_LINEAR. Returns float RGB, interleaved. Its loops run over the output
 * (the face detector's small input), never over a whole frame; the lip-sync frame path crops
 * and pastes natively (frames/frame-ops.ts).
 */
export function resizeRegion(src: RgbImage, rect: Rect, outW: number, outH: number): Float32Array {
  const w = rect.x2 - rect.x1;
  const h = rect.y2 - rect.y1;
  const out = new Float32Array(outW * outH * 3);
  const sx = w / outW;
  const sy = h / outH;
  for (let oy = 0; oy < outH; oy++) {
    const fy = Math.min(Math.max((oy + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const fx = Math.min(Math.max((ox + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      const p00 = ((rect.y1 + y0) * src.width + rect.x1 + x0) * 3;
      const p01 = ((rect.y1 + y0) * src.width + rect.x1 + x1) * 3;
      const p10 = ((rect.y1 + y1) * src.width + rect.x1 + x0) * 3;
      const p11 = ((rect.y1 + y1) * src.width + rect.x1 + x1) * 3;
      const o = (oy * outW + ox) * 3;
      for (let c = 0; c < 3; c++) {
        const top = (src.data[p00 + c] as number) * (1 - wx) + (src.data[p01 + c] as number) * wx;
        const bottom = (src.data[p10 + c] as number) * (1 - wx) + (src.data[p11 + c] as number) * wx;
        out[o + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}
