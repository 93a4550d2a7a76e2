import { describe, expect, it } from "vitest";
import type { Face } from "./blazeface.ts";
import { boxCrop, followFace, paddedCrop, smoothTrack, type TrackBox, trackCrops } from "./track.ts";

const face = (x: number, y: number, size: number, score: number): Face => ({
  x1: x,
  y1: y,
  x2: x + size,
  y2: y + size,
  score,
  keypoints: [],
});

describe("followFace", () => {
  it("starts with the most confident face and keeps to the same person after", () => {
    const frames = [
      [face(0, 0, 50, 0.7), face(200, 0, 50, 0.9)],
      [face(205, 0, 50, 0.7), face(5, 0, 50, 0.99)], // the other person is now more confident
      [],
      [face(10, 0, 50, 0.95), face(212, 2, 50, 0.6)],
    ];
    expect(followFace(frames)).toEqual([[200, 0, 250, 50], [205, 0, 255, 50], null, [212, 2, 262, 52]]);
  });

  it("takes the nearest face when none overlaps the last box", () => {
    const frames = [[face(0, 0, 10, 0.9)], [face(300, 0, 10, 0.99), face(40, 0, 10, 0.6)]];
    expect(followFace(frames)[1]).toEqual([40, 0, 50, 10]);
  });
});

describe("smoothTrack", () => {
  const at = (x: number): TrackBox => [x, 0, x + 10, 10];

  it("takes the centred mean of 5 boxes, exact for steady motion", () => {
    const boxes = [0, 10, 20, 30, 40, 50, 60].map(at);
    const out = smoothTrack(boxes, 5);
    expect(out.slice(2, 5)).toEqual([at(20), at(30), at(40)]);
  });

  it("averages out jitter", () => {
    const out = smoothTrack([0, 10, 0, 10, 0].map(at), 5);
    expect(out[2]).toEqual(at(4));
  });

  it("stays inside a run of face frames and narrows symmetrically at its ends", () => {
    const boxes = [at(0), at(10), at(20), null, at(100), at(130)];
    const out = smoothTrack(boxes, 5);
    expect(out[0]).toEqual(at(0)); // run start: the box alone
    expect(out[1]).toEqual(at(10)); // mean of 0, 10, 20
    expect(out[2]).toEqual(at(20)); // run end
    expect(out[3]).toBeNull();
    expect(out[4]).toEqual(at(100));
  });

  it("leaves boxes alone with a window of 1", () => {
    const boxes = [at(0), at(50), null];
    expect(smoothTrack(boxes, 1)).toEqual(boxes);
  });
});

describe("crops", () => {
  it("grows detected boxes by Wav2Lip's pads [top, bottom, left, right] and clips to the frame", () => {
    expect(paddedCrop([10, 20, 50, 60], [5, 10, 3, 4], 100, 100)).toEqual({ x1: 7, y1: 15, x2: 54, y2: 70 });
    expect(paddedCrop([90, 90, 120, 130], [0, 10, 0, 0], 100, 100)).toEqual({ x1: 90, y1: 90, x2: 100, y2: 100 });
    expect(paddedCrop([120, 0, 150, 20], [0, 0, 0, 0], 100, 100)).toBeNull();
  });

  it("uses a user's box as given, without pads (Wav2Lip's --box)", () => {
    expect(boxCrop([10, 20, 30, 40])).toEqual({ x1: 10, y1: 20, x2: 40, y2: 60 });
  });

  it("looks crops up per source frame, null where the track has no face", () => {
    const lookup = trackCrops([[10, 10, 20, 20], null], [0, 10, 0, 0], 64, 64);
    expect(lookup(0)).toEqual({ x1: 10, y1: 10, x2: 20, y2: 30 });
    expect(lookup(1)).toBeNull();
    expect(lookup(2)).toBeNull();
  });
});
