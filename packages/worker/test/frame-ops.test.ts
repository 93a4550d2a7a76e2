/**
 * Parity of the native crop and paste (src/frames/frame-ops.ts) with the JavaScript they
 * replaced, which stays here as the reference: bilinear with half-pixel centres and clamped
 * edges, like OpenCV's INTER_LINEAR. Frames are real decoded testsrc2 frames; the prediction
 * comes from the demo model, so the pasted mouth differs from the crop.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { type RgbImage, resizeRegion } from "../src/adapters/image.ts";
import { FACE_FLOATS, FACE_SIZE as S, FrameOps, type Rect } from "../src/frames/frame-ops.ts";

// ---- the reference: the worker's JavaScript crop and paste before the native frame path ----
// (resizeRegion stays in the product for the face detector's small input; the paste was
// removed from it and lives on here.)

function pastePlanar(prediction: Float32Array, size: number, dst: RgbImage, rect: Rect): void {
  const interleaved = new Uint8Array(size * size * 3);
  const plane = size * size;
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < 3; c++)
      interleaved[i * 3 + c] = Math.round(Math.min(1, Math.max(0, prediction[c * plane + i] as number)) * 255);
  const w = rect.x2 - rect.x1;
  const h = rect.y2 - rect.y1;
  const resized = resizeRegion(
    { width: size, height: size, data: interleaved },
    { x1: 0, y1: 0, x2: size, y2: size },
    w,
    h,
  );
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const d = ((rect.y1 + y) * dst.width + rect.x1 + x) * 3;
      const s = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) dst.data[d + c] = Math.round(resized[s + c] as number);
    }
}

/** The reference face input: (crop with its lower half zeroed, crop), planar, in [0,1]. */
function referenceFace(frame: RgbImage, rect: Rect): Float32Array {
  const crop = resizeRegion(frame, rect, S, S);
  const plane = S * S;
  const face = new Float32Array(6 * plane);
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++) {
      const v = (crop[p * 3 + c] as number) / 255;
      face[c * plane + p] = p >= plane / 2 ? 0 : v;
      face[(3 + c) * plane + p] = v;
    }
  return face;
}

// ---- helpers ----

/** PSNR in dB between two equally long sequences of 0..255 values. */
function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / (sum / a.length));
}

function region(image: RgbImage, rect: Rect): Uint8Array {
  const w = rect.x2 - rect.x1;
  const out = new Uint8Array(w * (rect.y2 - rect.y1) * 3);
  for (let y = rect.y1; y < rect.y2; y++)
    out.set(
      image.data.subarray((y * image.width + rect.x1) * 3, (y * image.width + rect.x2) * 3),
      (y - rect.y1) * w * 3,
    );
  return out;
}

const run = promisify(execFile);

async function decodeFrames(file: string, width: number, height: number): Promise<RgbImage[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], {
    encoding: "buffer",
    maxBuffer: 1 << 30,
  });
  const size = width * height * 3;
  return Array.from({ length: stdout.length / size }, (_, i) => ({
    width,
    height,
    data: new Uint8Array(stdout.subarray(i * size, (i + 1) * size)),
  }));
}

describe("native crop and paste (frame-ops) against the JavaScript reference", () => {
  let ops: FrameOps;
  let demo: InferenceSession;
  let dir: string;
  const clips: RgbImage[][] = [];

  beforeAll(async () => {
    ops = await FrameOps.load();
    demo = await InferenceSession.create(DEMO_MODEL_PATH);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "frame-ops-"));
    for (const [w, h] of [
      [1280, 720],
      [160, 120],
    ] as const) {
      const file = path.join(dir, `${w}.mp4`);
      await makeVideo(file, { seconds: 0.2, width: w, height: h });
      clips.push(await decodeFrames(file, w, h));
    }
  });
  afterAll(async () => {
    await ops?.release();
    await demo?.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Boxes of the test clips: the bench's, one touching the corner, odd sizes, the whole frame.
  const rects = (w: number, h: number): Rect[] =>
    [
      { x1: 480, y1: 200, x2: 800, y2: 530 },
      { x1: 0, y1: 0, x2: 97, y2: 61 },
      { x1: w - 45, y1: h - 77, x2: w, y2: h },
      { x1: 13, y1: 7, x2: 50, y2: 40 },
      { x1: 0, y1: 0, x2: w, y2: h },
    ].filter((r) => r.x2 <= w && r.y2 <= h);

  it("crops and scales the face region as the reference does (PSNR >= 40 dB)", async () => {
    let checked = 0;
    for (const frames of clips)
      for (const frame of frames.slice(0, 2))
        for (const rect of rects(frame.width, frame.height)) {
          const native = new Float32Array(FACE_FLOATS);
          await ops.crop(frame.data, frame, rect, "rgb", native);
          const reference = referenceFace(frame, rect);
          const dB = psnr(
            native.map((v) => v * 255),
            reference.map((v) => v * 255),
          );
          expect(dB, `crop ${JSON.stringify(rect)} of ${frame.width}x${frame.height}`).toBeGreaterThanOrEqual(40);
          checked++;
        }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("pastes the demo model's prediction as the reference does (PSNR >= 40 dB on the pasted region)", async () => {
    let checked = 0;
    const loud = new Tensor("float32", new Float32Array(80 * 16).fill(1), [1, 1, 80, 16]);
    for (const frames of clips)
      for (const frame of frames.slice(0, 2))
        for (const rect of rects(frame.width, frame.height)) {
          // Today's path end to end: reference crop -> model -> reference paste.
          const refFace = referenceFace(frame, rect);
          const refPred = (await demo.run({ mel: loud, face: new Tensor("float32", refFace, [1, 6, S, S]) }))
            .output as Tensor;
          const expected = { ...frame, data: new Uint8Array(frame.data) };
          pastePlanar(refPred.data as Float32Array, S, expected, rect);
          // The native path: native crop -> model -> native paste.
          const face = new Float32Array(FACE_FLOATS);
          await ops.crop(frame.data, frame, rect, "rgb", face);
          const pred = (await demo.run({ mel: loud, face: new Tensor("float32", face, [1, 6, S, S]) }))
            .output as Tensor;
          const actual = new Uint8Array(frame.data);
          await ops.paste(pred.data as Float32Array, actual, frame, rect, "rgb");

          const pasted = region({ ...frame, data: actual }, rect);
          // The model changed something: the paste is not a no-op that trivially matches.
          expect(psnr(pasted, region(frame, rect))).toBeLessThan(40);
          const dB = psnr(pasted, region(expected, rect));
          expect(dB, `paste ${JSON.stringify(rect)} of ${frame.width}x${frame.height}`).toBeGreaterThanOrEqual(40);
          // Outside the box the frame is untouched, byte for byte.
          const outside = (img: Uint8Array) => {
            const copy = new Uint8Array(img);
            for (let y = rect.y1; y < rect.y2; y++)
              copy.fill(0, (y * frame.width + rect.x1) * 3, (y * frame.width + rect.x2) * 3);
            return copy;
          };
          expect(Buffer.from(outside(actual)).equals(Buffer.from(outside(frame.data)))).toBe(true);
          checked++;
        }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("bgr order feeds the model the frame's channels reversed and pastes them back in rgb", async () => {
    const frame = clips[1]?.[0] as RgbImage;
    const rect = { x1: 10, y1: 10, x2: 90, y2: 100 };
    const rgb = new Float32Array(FACE_FLOATS);
    const bgr = new Float32Array(FACE_FLOATS);
    await ops.crop(frame.data, frame, rect, "rgb", rgb);
    await ops.crop(frame.data, frame, rect, "bgr", bgr);
    const plane = S * S;
    expect(bgr.subarray(0, plane)).toEqual(rgb.subarray(2 * plane, 3 * plane));
    expect(bgr.subarray(5 * plane, 6 * plane)).toEqual(rgb.subarray(3 * plane, 4 * plane));
    // Feeding the bgr crop's reference half back as a bgr prediction restores the rgb frame.
    const back = new Uint8Array(frame.data);
    const viaBgr = new Uint8Array(frame.data);
    await ops.paste(rgb.slice(3 * plane), back, frame, rect, "rgb");
    await ops.paste(bgr.slice(3 * plane), viaBgr, frame, rect, "bgr");
    expect(Buffer.from(viaBgr).equals(Buffer.from(back))).toBe(true);
  });
});
