/**
 * The face-swap frame path (src/adapters/inswapper/swap-path.ts) over the moving astronaut
 * footage, with the face track's keypoints as the worker computes them (detector -> follow ->
 * smooth), the crop and paste on the frame-ops thread, and swappers built in code: the identity
 * swapper must give the video back within codec noise on the face; the painting swapper must
 * change only the face, and no frame without one.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";
import { Mutex } from "async-mutex";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_FOOTAGE,
  faceBoxAt,
  fullyVisible,
  makeFaceFootage,
  portraitVisible,
  lumaChangedOutside,
} from "../../../test/harness/face-footage.ts";
import { buildIdentitySwapper, buildPaintingSwapper, fixedMatrix, paintColour } from "../scripts/face-swap-models.ts";
import { featherMask } from "../src/adapters/inswapper/mask.ts";
import { SWAP_FLOATS, SWAP_SIZE } from "../src/adapters/inswapper/signature.ts";
import { runSwapPath } from "../src/adapters/inswapper/swap-path.ts";
import { trackTransforms } from "../src/adapters/inswapper/track-transforms.ts";
import { detectFaces } from "../src/face/blazeface.ts";
import { bindBlazeFace } from "../src/face/blazeface-binding.ts";
import { shippedModelFile } from "../src/face/shipped-detector.ts";
import { followFaces, smoothTrack } from "../src/face/track.ts";
import { FrameOpsThread } from "../src/frames/frame-ops-client.ts";
import { probeVideo } from "../src/media/probe.ts";
import { yuvLayout } from "../src/media/yuv.ts";

const f = DEFAULT_FOOTAGE;
const layout = yuvLayout(f.width, f.height);

function decode(file: string, pixFmt: string, bytes: number): Uint8Array[] {
  const out = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", pixFmt, "-"], {
    maxBuffer: 1 << 30,
  });
  return Array.from({ length: out.length / bytes }, (_, i) => new Uint8Array(out.subarray(i * bytes, (i + 1) * bytes)));
}

/** Squared error and sample count of a box's luma between two yuv420p frames. */
function boxError(a: Uint8Array, b: Uint8Array, box: readonly number[]): [number, number] {
  const [x1, y1, x2, y2] = box.map((v) => Math.round(v)) as [number, number, number, number];
  let sum = 0;
  for (let y = y1; y < y2; y++)
    for (let x = x1; x < x2; x++) sum += ((a[y * f.width + x] as number) - (b[y * f.width + x] as number)) ** 2;
  return [sum, (x2 - x1) * (y2 - y1)];
}
const psnr = (sum: number, n: number) => 10 * Math.log10((255 * 255) / (sum / n));

describe("the face-swap frame path on the moving astronaut", () => {
  let dir: string;
  let input: string;
  let ops: FrameOpsThread;
  let transformOf: (n: number) => ReturnType<ReturnType<typeof trackTransforms>>;
  let original: Uint8Array[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "swap-path-"));
    input = path.join(dir, "astronaut.mp4");
    makeFaceFootage(input, f);
    original = decode(input, "yuv420p", layout.frameBytes);
    const detector = await InferenceSession.create((await shippedModelFile(DEFAULT_FACE_DETECTOR.sha256)) as string);
    const binding = bindBlazeFace(detector, "detector");
    const faces = [];
    for (const data of decode(input, "rgb24", f.width * f.height * 3))
      faces.push(await detectFaces(detector, binding, { width: f.width, height: f.height, data }, binding.minScore));
    await detector.release();
    const keypoints = smoothTrack(
      followFaces(faces).map((face) => face?.keypoints ?? null),
      5,
    );
    transformOf = trackTransforms(keypoints, SWAP_SIZE);
    ops = new FrameOpsThread();
  }, 180_000);
  afterAll(async () => {
    await ops?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function swap(model: Uint8Array, source: Float32Array, o: { lossless: boolean; name: string }) {
    const session = await InferenceSession.create(model, { logSeverityLevel: 3 });
    const outFile = path.join(dir, `${o.name}.mp4`);
    const video = await probeVideo(input, "video", 1e8);
    const result = await runSwapPath({
      videoFile: input,
      videoLabel: "video",
      video,
      outFile,
      transformOf,
      order: "rgb",
      batchSize: 8,
      ops,
      mask: featherMask(SWAP_SIZE, 0.3),
      run: async (faces, swapped, count) => {
        const started = performance.now();
        for (let i = 0; i < count; i++) {
          const out = await session.run({
            target: new Tensor("float32", faces.slice(i * SWAP_FLOATS, (i + 1) * SWAP_FLOATS), [1, 3, 128, 128]),
            source: new Tensor("float32", source, [1, 512]),
          });
          swapped.set(out.output?.data as Float32Array, i * SWAP_FLOATS);
        }
        return (performance.now() - started) / 1000;
      },
      cardLock: new Mutex(),
      codecs: { encoder: "libx264", decoder: "cpu", device: 0 },
      lossless: o.lossless,
      signal: new AbortController().signal,
      onProgress: () => {},
    });
    await session.release();
    return { result, frames: decode(outFile, "yuv420p", layout.frameBytes) };
  }

  for (const [lossless, bound] of [
    [true, 35],
    [false, 30],
  ] as const)
    it(`gives the video back with the identity swapper: face-region PSNR >= ${bound} dB (lossless=${lossless})`, async () => {
      const { result, frames } = await swap(buildIdentitySwapper(), new Float32Array(512), {
        lossless,
        name: `identity-${lossless}`,
      });
      expect(frames.length).toBe(original.length);
      expect(result.facesSwapped).toBeGreaterThan(100);
      let sum = 0;
      let n = 0;
      let worst = Number.POSITIVE_INFINITY;
      for (const [i, frame] of frames.entries()) {
        const truth = faceBoxAt(f.path, i / f.fps);
        if (!fullyVisible(truth, f.width, f.height)) continue;
        const [s, c] = boxError(frame, original[i] as Uint8Array, truth);
        sum += s;
        n += c;
        worst = Math.min(worst, psnr(s, c));
      }
      console.log(
        `identity swap (lossless=${lossless}): face-region PSNR ${psnr(sum, n).toFixed(1)} dB overall, worst frame ${worst.toFixed(1)} dB`,
      );
      expect(psnr(sum, n)).toBeGreaterThanOrEqual(bound);
    }, 240_000);

  it("paints only the moving face with the painting swapper, leaves frames without a face unchanged, and shows the source's colour", async () => {
    const source = fixedMatrix(1, 512, 9);
    const { frames } = await swap(buildPaintingSwapper(), source, { lossless: true, name: "painted" });
    const [r, g, b] = paintColour(source).map((v) => Math.round(v * 255)) as [number, number, number];
    const expectedY = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    let faceless = 0;
    for (const [i, frame] of frames.entries()) {
      const t = i / f.fps;
      const before = original[i] as Uint8Array;
      if (!portraitVisible(f.path, t, f.width, f.height)) {
        faceless++;
        expect(Buffer.compare(frame, before), `frame ${i} has no face`).toBe(0);
        continue;
      }
      const [x1, y1, x2, y2] = faceBoxAt(f.path, t);
      const outside = lumaChangedOutside(frame, before, [x1, y1, x2, y2], f.width, f.height);
      expect(outside, `frame ${i}: luma changed outside the face`).toBe(0);
      if (fullyVisible([x1, y1, x2, y2], f.width, f.height)) {
        const centre = Math.round((y1 + y2) / 2) * f.width + Math.round((x1 + x2) / 2);
        expect(Math.abs((frame[centre] as number) - expectedY), `frame ${i}: the face's centre`).toBeLessThanOrEqual(2);
      }
    }
    expect(faceless).toBeGreaterThanOrEqual(25);
  }, 240_000);
});
