import { describe, expect, it } from "vitest";
import { BLAZEFACE_CONFIGS } from "./blazeface.ts";
import { ssdAnchors } from "./anchors.ts";

describe("ssdAnchors", () => {
  it("makes MediaPipe's 896 short-range anchors: 16x16 cells x 2, then 8x8 cells x 6", () => {
    const anchors = BLAZEFACE_CONFIGS[128]?.anchors ?? [];
    expect(anchors).toHaveLength(896);
    // stride 8: the first cell's two anchors share its centre (0.5/16)
    expect(anchors[0]).toEqual({ xCenter: 0.5 / 16, yCenter: 0.5 / 16, w: 1, h: 1 });
    expect(anchors[1]).toEqual(anchors[0]);
    expect(anchors[2]?.xCenter).toBeCloseTo(1.5 / 16);
    expect(anchors[511]).toMatchObject({ xCenter: 15.5 / 16, yCenter: 15.5 / 16 });
    // strides 16,16,16 merge into one 8x8 map with 3 x (ratio 1 + interpolated) = 6 anchors per cell
    for (let k = 512; k < 518; k++) expect(anchors[k]).toMatchObject({ xCenter: 0.5 / 8, yCenter: 0.5 / 8 });
    expect(anchors[518]?.xCenter).toBeCloseTo(1.5 / 8);
    expect(anchors[895]).toMatchObject({ xCenter: 7.5 / 8, yCenter: 7.5 / 8 });
  });

  it("makes the full-range (256x256) anchors on 16x16 and 8x8 maps too", () => {
    const anchors = BLAZEFACE_CONFIGS[256]?.anchors ?? [];
    expect(anchors).toHaveLength(896);
    expect(anchors[0]).toMatchObject({ xCenter: 0.5 / 16, yCenter: 0.5 / 16 });
    expect(anchors[512]).toMatchObject({ xCenter: 0.5 / 8, yCenter: 0.5 / 8 });
  });

  it("sizes anchors from the scales when fixed_anchor_size is off", () => {
    const anchors = ssdAnchors({
      inputWidth: 4,
      inputHeight: 4,
      minScale: 0.2,
      maxScale: 0.6,
      anchorOffsetX: 0.5,
      anchorOffsetY: 0.5,
      strides: [2, 4],
      aspectRatios: [1, 4],
      interpolatedScaleAspectRatio: 0,
      fixedAnchorSize: false,
    });
    // layer 0: 2x2 cells x 2 ratios at scale 0.2; layer 1: 1 cell x 2 ratios at scale 0.6
    expect(anchors).toHaveLength(10);
    expect(anchors[0]).toMatchObject({ w: 0.2, h: 0.2 });
    expect(anchors[1]?.w).toBeCloseTo(0.4);
    expect(anchors[1]?.h).toBeCloseTo(0.1);
    expect(anchors[8]).toMatchObject({ xCenter: 0.5, yCenter: 0.5 });
    expect(anchors[8]?.w).toBeCloseTo(0.6);
  });
});
