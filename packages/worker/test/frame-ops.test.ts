/**
 * Parity of the native crop and paste (src/frames/frame-ops.ts) with the JavaScript they
 * replaced, which stays here as the reference: bilinear with half-pixel centres and clamped
 * edges, like OpenCV's INTER_LINEAR, on rgb24 frames. The native path works on the same frames
 * decoded as yuv420p; its paste is compared with the reference's rgb frame as the rgb24 path's
 * encoder turned it into yuv420p (ffmpeg). Frames are real decoded testsrc2 frames; the
 * prediction comes from the demo model, so the pasted mouth differs from the crop.
 */
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { type RgbImage, resizeRegion } from "../src/face/image.ts";
import { FACE_FLOATS, FACE_SIZE as S, type FrameFormat, FrameOps, type Rect } from "../src/frames/frame-ops.ts";
import { FrameOpsThread } from "../src/frames/frame-ops-client.ts";
import { type YuvLayout, yuvLayout } from "../src/media/yuv.ts";

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

const run = promisify(execFile);

/** One frame as the reference saw it (rgb24) and as the frame path sees it (yuv420p). */
interface TestFrame {
  rgb: RgbImage;
  yuv: Uint8Array;
  format: FrameFormat;
  layout: YuvLayout;
}

async function decodeRaw(file: string, pixFmt: string, frameBytes: number): Promise<Uint8Array[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", pixFmt, "pipe:1"], {
    encoding: "buffer",
    maxBuffer: 1 << 30,
  });
  return Array.from(
    { length: stdout.length / frameBytes },
    (_, i) => new Uint8Array(stdout.subarray(i * frameBytes, (i + 1) * frameBytes)),
  );
}

async function decodeFrames(file: string, width: number, height: number): Promise<TestFrame[]> {
  const layout = yuvLayout(width, height);
  const rgb = await decodeRaw(file, "rgb24", width * height * 3);
  const yuv = await decodeRaw(file, "yuv420p", layout.frameBytes);
  expect(yuv.length).toBe(rgb.length);
  return rgb.map((data, i) => ({
    rgb: { width, height, data },
    yuv: yuv[i] as Uint8Array,
    format: { width, height, colorMatrix: "bt601" },
    layout,
  }));
}

/** An rgb24 frame as yuv420p, converted by ffmpeg as the rgb24 path's encoder did. */
function toYuv(image: RgbImage): Uint8Array {
  const args = [
    "-v",
    "error",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    `${image.width}x${image.height}`,
    "-i",
    "-",
  ];
  const out = spawnSync("ffmpeg", [...args, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], {
    input: image.data,
    maxBuffer: 1 << 28,
  });
  expect(out.status, String(out.stderr)).toBe(0);
  return new Uint8Array(out.stdout);
}

/** The bytes of `rect` of a plane `stride` bytes wide starting at `offset`. */
function planeRegion(frame: Uint8Array, offset: number, stride: number, rect: Rect): Uint8Array {
  const w = rect.x2 - rect.x1;
  const out = new Uint8Array(w * (rect.y2 - rect.y1));
  for (let y = rect.y1; y < rect.y2; y++)
    out.set(frame.subarray(offset + y * stride + rect.x1, offset + y * stride + rect.x2), (y - rect.y1) * w);
  return out;
}

/** The box's luma, and its chroma cells (every 2x2 cell it touches), of a yuv420p frame. */
function yuvRegions(frame: Uint8Array, l: YuvLayout, rect: Rect): { y: Uint8Array; u: Uint8Array; v: Uint8Array } {
  const cells = { x1: rect.x1 >> 1, y1: rect.y1 >> 1, x2: (rect.x2 + 1) >> 1, y2: (rect.y2 + 1) >> 1 };
  return {
    y: planeRegion(frame, 0, l.width, rect),
    u: planeRegion(frame, l.u, l.chromaWidth, cells),
    v: planeRegion(frame, l.v, l.chromaWidth, cells),
  };
}

/** The frame with the box's luma and chroma cells zeroed: what the paste must leave alone. */
function outsideOf(frame: Uint8Array, l: YuvLayout, rect: Rect): Uint8Array {
  const copy = new Uint8Array(frame);
  for (let y = rect.y1; y < rect.y2; y++) copy.fill(0, y * l.width + rect.x1, y * l.width + rect.x2);
  for (let y = rect.y1 >> 1; y < (rect.y2 + 1) >> 1; y++)
    for (const plane of [l.u, l.v])
      copy.fill(0, plane + y * l.chromaWidth + (rect.x1 >> 1), plane + y * l.chromaWidth + ((rect.x2 + 1) >> 1));
  return copy;
}

describe("native crop and paste (frame-ops) against the JavaScript reference", () => {
  let ops: FrameOps;
  let demo: InferenceSession;
  let dir: string;
  const clips: TestFrame[][] = [];

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

  // Boxes of the test clips: the bench's, one touching the corner, odd sizes and edges, the whole frame.
  const rects = (w: number, h: number): Rect[] =>
    [
      { x1: 480, y1: 200, x2: 800, y2: 530 },
      { x1: 0, y1: 0, x2: 97, y2: 61 },
      { x1: w - 45, y1: h - 77, x2: w, y2: h },
      { x1: 13, y1: 7, x2: 50, y2: 40 },
      { x1: 0, y1: 0, x2: w, y2: h },
    ].filter((r) => r.x2 <= w && r.y2 <= h);

  it("crops and scales the face region of a yuv420p frame as the reference does on rgb24 (PSNR >= 40 dB)", async () => {
    let checked = 0;
    for (const frames of clips)
      for (const frame of frames.slice(0, 2))
        for (const rect of rects(frame.format.width, frame.format.height)) {
          const native = new Float32Array(FACE_FLOATS);
          await ops.crop(frame.yuv, frame.format, rect, "rgb", native);
          const reference = referenceFace(frame.rgb, rect);
          const dB = psnr(
            native.map((v) => v * 255),
            reference.map((v) => v * 255),
          );
          expect(
            dB,
            `crop ${JSON.stringify(rect)} of ${frame.format.width}x${frame.format.height}`,
          ).toBeGreaterThanOrEqual(40);
          checked++;
        }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("pastes the demo model's prediction as the reference does (PSNR >= 40 dB on each plane of the pasted region)", async () => {
    let checked = 0;
    const loud = new Tensor("float32", new Float32Array(80 * 16).fill(1), [1, 1, 80, 16]);
    for (const frames of clips)
      for (const frame of frames.slice(0, 2))
        for (const rect of rects(frame.format.width, frame.format.height)) {
          const label = `paste ${JSON.stringify(rect)} of ${frame.format.width}x${frame.format.height}`;
          // Today's path end to end: reference crop -> model -> reference paste -> the encoder's yuv420p.
          const refFace = referenceFace(frame.rgb, rect);
          const refPred = (await demo.run({ mel: loud, face: new Tensor("float32", refFace, [1, 6, S, S]) }))
            .output as Tensor;
          const expected = { ...frame.rgb, data: new Uint8Array(frame.rgb.data) };
          pastePlanar(refPred.data as Float32Array, S, expected, rect);
          const expectedYuv = toYuv(expected);
          // The native path on yuv420p: native crop -> model -> native paste.
          const face = new Float32Array(FACE_FLOATS);
          await ops.crop(frame.yuv, frame.format, rect, "rgb", face);
          const pred = (await demo.run({ mel: loud, face: new Tensor("float32", face, [1, 6, S, S]) }))
            .output as Tensor;
          const actual = new Uint8Array(frame.yuv);
          await ops.paste(pred.data as Float32Array, actual, frame.format, rect, "rgb");

          const pasted = yuvRegions(actual, frame.layout, rect);
          const want = yuvRegions(expectedYuv, frame.layout, rect);
          // The model changed something: the paste is not a no-op that trivially matches.
          expect(psnr(pasted.y, yuvRegions(frame.yuv, frame.layout, rect).y)).toBeLessThan(40);
          for (const p of ["y", "u", "v"] as const)
            expect(psnr(pasted[p], want[p]), `${label}, plane ${p}`).toBeGreaterThanOrEqual(40);
          // Outside the box (and the chroma cells it touches) the frame is untouched, byte for byte.
          const outside = (f: Uint8Array) => Buffer.from(outsideOf(f, frame.layout, rect));
          expect(outside(actual).equals(outside(frame.yuv)), label).toBe(true);
          checked++;
        }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("bgr order feeds the model the crop's channels reversed and pastes them back in rgb", async () => {
    const frame = clips[1]?.[0] as TestFrame;
    const rect = { x1: 10, y1: 11, x2: 91, y2: 100 };
    const rgb = new Float32Array(FACE_FLOATS);
    const bgr = new Float32Array(FACE_FLOATS);
    await ops.crop(frame.yuv, frame.format, rect, "rgb", rgb);
    await ops.crop(frame.yuv, frame.format, rect, "bgr", bgr);
    const plane = S * S;
    expect(bgr.subarray(0, plane)).toEqual(rgb.subarray(2 * plane, 3 * plane));
    expect(bgr.subarray(5 * plane, 6 * plane)).toEqual(rgb.subarray(3 * plane, 4 * plane));
    // Feeding the bgr crop's reference half back as a bgr prediction restores the rgb paste.
    const back = new Uint8Array(frame.yuv);
    const viaBgr = new Uint8Array(frame.yuv);
    await ops.paste(rgb.slice(3 * plane), back, frame.format, rect, "rgb");
    await ops.paste(bgr.slice(3 * plane), viaBgr, frame.format, rect, "bgr");
    expect(Buffer.from(viaBgr).equals(Buffer.from(back))).toBe(true);
    expect(Buffer.from(back).equals(Buffer.from(frame.yuv))).toBe(false);
  });

  it("the frame-ops thread crops and pastes a batch in shared memory exactly as this thread does", async () => {
    const thread = new FrameOpsThread();
    try {
      const frames = (clips[0] as TestFrame[]).slice(0, 2);
      const rects = [
        { x1: 480, y1: 200, x2: 800, y2: 530 },
        { x1: 13, y1: 7, x2: 50, y2: 40 },
      ];
      const sharedCopy = (bytes: Uint8Array) => {
        const copy = new Uint8Array(new SharedArrayBuffer(bytes.length));
        copy.set(bytes);
        return copy;
      };
      const format = (frames[0] as TestFrame).format;
      const boxed = (data: Uint8Array[]) => ({ frames: data, rects, format, order: "bgr" as const });
      const local = frames.map((f) => new Uint8Array(f.yuv));
      const shared = frames.map((f) => sharedCopy(f.yuv));
      const face = new Float32Array(2 * FACE_FLOATS);
      const sharedFace = new Float32Array(new SharedArrayBuffer(2 * FACE_FLOATS * 4));
      await ops.cropAll(boxed(local), face);
      await thread.cropAll(boxed(shared), sharedFace);
      expect(Buffer.from(sharedFace.buffer).equals(Buffer.from(face.buffer))).toBe(true);
      expect(face.some((v) => v > 0)).toBe(true);
      // The crops' reference halves pasted back as predictions: the frames change, the same way.
      const prediction = new Float32Array(2 * 3 * S * S);
      for (let i = 0; i < 2; i++)
        prediction.set(face.subarray(i * FACE_FLOATS + 3 * S * S, (i + 1) * FACE_FLOATS), i * 3 * S * S);
      prediction.forEach((v, i) => {
        prediction[i] = 1 - v; // an inverted face: the paste must show
      });
      await ops.pasteAll(boxed(local), prediction);
      await thread.pasteAll(boxed(shared), prediction);
      for (const [i, f] of frames.entries()) {
        expect(Buffer.from(shared[i] as Uint8Array).equals(Buffer.from(local[i] as Uint8Array))).toBe(true);
        expect(Buffer.from(local[i] as Uint8Array).equals(Buffer.from(f.yuv))).toBe(false);
      }
      // A frame outside shared memory would be written in a copy: refused, saying why.
      await expect(thread.cropAll(boxed(local), sharedFace)).rejects.toThrow(/shared memory/);
    } finally {
      await thread.close();
    }
  });
});
