import { describe, expect, it } from "vitest";
import { letterboxRegion, toInputTensor } from "./blazeface.ts";

const frame = (width: number, height: number, value = 255) => ({
  width,
  height,
  data: new Uint8Array(width * height * 3).fill(value),
});

describe("toInputTensor", () => {
  it("letterboxes a wide frame into the square input, centred, black borders, RGB in [-1,1]", () => {
    const { data, box } = toInputTensor(frame(640, 360), 256);
    expect(box).toEqual({ size: 256, offsetX: 0, offsetY: 56, scaleX: 0.4, scaleY: 0.4 });
    const at = (x: number, y: number) => data[(y * 256 + x) * 3] as number;
    expect(at(10, 55)).toBe(-1); // border above
    expect(at(10, 56)).toBe(1); // white frame
    expect(at(10, 199)).toBe(1);
    expect(at(10, 200)).toBe(-1); // border below
    expect(letterboxRegion(640, 360)).toEqual({ x1: 0, y1: -140, side: 640 });
  });

  it("maps a region reaching outside the frame, with the outside black", () => {
    // a 100 px square whose left half lies left of the frame
    const { data, box } = toInputTensor(frame(200, 200), 100, { x1: -50, y1: 0, side: 100 });
    expect(box.scaleX).toBe(1);
    expect(box.offsetX).toBe(50); // frame x 0 lands at tensor x 50
    expect(data[(10 * 100 + 49) * 3]).toBe(-1);
    expect(data[(10 * 100 + 50) * 3]).toBe(1);
  });
});
