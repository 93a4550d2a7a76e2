/**
 * The face swap's aligned crop and paste (src/adapters/inswapper/warp-ops.ts) on real frames:
 * the moving astronaut footage, decoded as the frame path decodes it (yuv420p), aligned with
 * the shipped BlazeFace detector's keypoints. Cropping and pasting the crop back unchanged
 * must give the frame back (the two warps are each other's inverse); a paste one pixel off
 * must not; a painted crop changes only pixels around the face.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";
import { InferenceSession } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_FOOTAGE,
  faceBoxAt,
  fullyVisible,
  lumaChangedOutside,
  makeFaceFootage,
} from "../../../test/harness/face-footage.ts";
import { type Affine, alignToTemplate } from "../src/adapters/arcface/alignment.ts";
import { featherMask } from "../src/adapters/inswapper/mask.ts";
import { SWAP_FLOATS, SWAP_SIZE as S } from "../src/adapters/inswapper/signature.ts";
import { SwapOps } from "../src/adapters/inswapper/warp-ops.ts";
import { detectFaces, type Face } from "../src/face/blazeface.ts";
import { bindBlazeFace } from "../src/face/blazeface-binding.ts";
import { shippedModelFile } from "../src/face/shipped-detector.ts";
import type { FrameFormat } from "../src/frames/frame-ops.ts";
import { yuvLayout } from "../src/media/yuv.ts";

const f = { ...DEFAULT_FOOTAGE, seconds: 4 };
const format: FrameFormat = { width: f.width, height: f.height, colorMatrix: "bt601" };
const layout = yuvLayout(f.width, f.height);

function decode(file: string, pixFmt: string, bytes: number): Uint8Array[] {
  const out = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", pixFmt, "-"], {
    maxBuffer: 1 << 30,
  });
  return Array.from({ length: out.length / bytes }, (_, i) => new Uint8Array(out.subarray(i * bytes, (i + 1) * bytes)));
}

/** PSNR (dB) of the luma and chroma samples of a box between two yuv420p frames. */
function boxPsnr(a: Uint8Array, b: Uint8Array, box: readonly number[]): number {
  const [x1, y1, x2, y2] = box.map((v) => Math.round(v)) as [number, number, number, number];
  let sum = 0;
  let n = 0;
  const add = (i: number) => {
    sum += ((a[i] as number) - (b[i] as number)) ** 2;
    n++;
  };
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) add(y * f.width + x);
  for (let y = y1 >> 1; y < y2 >> 1; y++)
    for (let x = x1 >> 1; x < x2 >> 1; x++) {
      add(layout.u + y * layout.chromaWidth + x);
      add(layout.v + y * layout.chromaWidth + x);
    }
  return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / (sum / n));
}

describe("aligned crop and paste on the moving astronaut", () => {
  let dir: string;
  let ops: SwapOps;
  const frames: { yuv: Uint8Array; face: Face; truth: [number, number, number, number] }[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "swap-ops-"));
    const file = path.join(dir, "astronaut.mp4");
    makeFaceFootage(file, f);
    const rgb = decode(file, "rgb24", f.width * f.height * 3);
    const yuv = decode(file, "yuv420p", layout.frameBytes);
    const detector = await InferenceSession.create((await shippedModelFile(DEFAULT_FACE_DETECTOR.sha256)) as string);
    const binding = bindBlazeFace(detector, "detector");
    for (const [n, data] of rgb.entries()) {
      const truth = faceBoxAt(f.path, n / f.fps);
      if (!fullyVisible(truth, f.width, f.height)) continue;
      const [face] = await detectFaces(detector, binding, { width: f.width, height: f.height, data }, binding.minScore);
      if (face) frames.push({ yuv: yuv[n] as Uint8Array, face, truth });
    }
    await detector.release();
    ops = new SwapOps();
  }, 180_000);
  afterAll(async () => {
    await ops?.release();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("has BlazeFace's keypoints in MediaPipe's order: the subject's right eye on the image's left, the mouth below the nose", () => {
    expect(frames.length).toBeGreaterThan(50);
    for (const { face } of frames) {
      const [rx, ry, lx, ly, nx, ny, mx, my] = face.keypoints as number[];
      expect(rx).toBeLessThan(lx as number);
      expect(ny).toBeGreaterThan(Math.max(ry as number, ly as number));
      expect(my).toBeGreaterThan(ny as number);
      expect(nx).toBeGreaterThan(face.x1);
      expect(mx).toBeLessThan(face.x2);
    }
  });

  const swapAll = async (paint: (crop: Float32Array) => void, shift = 0) => {
    const psnrs: number[] = [];
    const outside: number[] = [];
    for (const { yuv, face, truth } of frames) {
      const frame = new Uint8Array(yuv);
      const toCrop = alignToTemplate(face.keypoints, S);
      const crop = new Float32Array(SWAP_FLOATS);
      await ops.crop(frame, format, toCrop, S, "rgb", crop);
      paint(crop);
      const moved = [toCrop[0], toCrop[1], toCrop[2] + shift, toCrop[3], toCrop[4], toCrop[5]] as Affine;
      await ops.paste(crop, featherMask(S, 0.3), frame, format, moved, S, "rgb");
      psnrs.push(boxPsnr(frame, yuv, truth));
      outside.push(lumaChangedOutside(frame, yuv, truth, f.width, f.height));
    }
    return { psnrs, outside };
  };

  it("gives the frame back when the crop is pasted unchanged (PSNR >= 38 dB on every face box), and not when one pixel off", async () => {
    const same = await swapAll(() => {});
    const worst = Math.min(...same.psnrs);
    const off = await swapAll(() => {}, 1);
    const offMean = off.psnrs.reduce((a, b) => a + b, 0) / off.psnrs.length;
    console.log(
      `identity crop+paste on ${frames.length} frames: worst face-box PSNR ${worst.toFixed(1)} dB; ` +
        `one pixel off: mean ${offMean.toFixed(1)} dB`,
    );
    // Two bilinear resamplings of a photo at about 1.5x cost about 40 dB (39.1-40.6 measured);
    // a paste one pixel off costs 10 dB more.
    expect(worst).toBeGreaterThanOrEqual(38);
    expect(offMean).toBeLessThan(35);
    expect(Math.max(...same.outside)).toBe(0);
  }, 120_000);

  it("changes only pixels around the face when the crop is painted one colour", async () => {
    const { psnrs, outside } = await swapAll((crop) => crop.fill(0.9, 0, S * S).fill(0.1, S * S));
    expect(Math.max(...psnrs)).toBeLessThan(20); // the face did change
    expect(Math.max(...outside)).toBe(0);
  }, 120_000);
});
