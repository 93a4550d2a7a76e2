/**
 * The face-swap frame path alone, in this process, for `pnpm bench faceswap`: the face track's
 * keypoints computed once with the shipped detector (as the face-track job makes them), then
 * runSwapPath (src/adapters/inswapper/swap-path.ts) with the identity swapper (a near-free
 * model with inswapper-128's signature) run in-process, the crop and paste on the frame-ops
 * thread.
 */
import { spawn } from "node:child_process";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";
import { Mutex } from "async-mutex";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { featherMask } from "../src/adapters/inswapper/mask.ts";
import { SWAP_FLOATS, SWAP_SIZE } from "../src/adapters/inswapper/signature.ts";
import { runSwapPath, type SwapPathResult } from "../src/adapters/inswapper/swap-path.ts";
import { trackTransforms } from "../src/adapters/inswapper/track-transforms.ts";
import { detectFaces } from "../src/face/blazeface.ts";
import { bindBlazeFace } from "../src/face/blazeface-binding.ts";
import { shippedModelFile } from "../src/face/shipped-detector.ts";
import { followFaces, smoothTrack } from "../src/face/track.ts";
import { FrameOpsThread } from "../src/frames/frame-ops-client.ts";
import { probeVideo } from "../src/media/probe.ts";
import { buildIdentitySwapper } from "./face-swap-models.ts";

export interface SwapPathAlone {
  frames: number;
  fps: number;
  withFace: number;
  run(outFile: string, batchSize: number): Promise<SwapPathResult>;
  close(): Promise<void>;
}

export async function prepareSwapPathAlone(clip: string): Promise<SwapPathAlone> {
  const video = await probeVideo(clip, "clip", 1e9);
  const { width: W, height: H } = video;
  const detector = await InferenceSession.create((await shippedModelFile(DEFAULT_FACE_DETECTOR.sha256)) as string);
  const binding = bindBlazeFace(detector, "detector");
  const faces = [];
  // Frame by frame from ffmpeg's pipe (a 720p clip decoded whole is half a gigabyte).
  const bytes = W * H * 3;
  const decoder = spawn("ffmpeg", ["-v", "error", "-i", clip, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
  let pending = Buffer.alloc(0);
  for await (const chunk of decoder.stdout as AsyncIterable<Buffer>) {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= bytes) {
      const data = new Uint8Array(pending.subarray(0, bytes));
      pending = pending.subarray(bytes);
      faces.push(await detectFaces(detector, binding, { width: W, height: H, data }, binding.minScore));
    }
  }
  await detector.release();
  const keypoints = smoothTrack(
    followFaces(faces).map((f) => f?.keypoints ?? null),
    5,
  );
  const transformOf = trackTransforms(keypoints, SWAP_SIZE);
  const swapper = await InferenceSession.create(buildIdentitySwapper(), { logSeverityLevel: 3 });
  const source = new Tensor("float32", new Float32Array(512), [1, 512]);
  const ops = new FrameOpsThread();
  return {
    frames: video.frames,
    fps: video.fps,
    withFace: keypoints.filter(Boolean).length,
    run: (outFile, batchSize) =>
      runSwapPath({
        videoFile: clip,
        videoLabel: "clip",
        video,
        outFile,
        transformOf,
        order: "rgb",
        batchSize,
        ops,
        mask: featherMask(SWAP_SIZE, 0.3),
        run: async (batch, swapped, count) => {
          let seconds = 0;
          for (let i = 0; i < count; i++) {
            const started = performance.now();
            const out = await swapper.run({
              target: new Tensor("float32", batch.subarray(i * SWAP_FLOATS, (i + 1) * SWAP_FLOATS), [1, 3, 128, 128]),
              source,
            });
            seconds += (performance.now() - started) / 1000;
            swapped.set(out.output?.data as Float32Array, i * SWAP_FLOATS);
          }
          return seconds;
        },
        cardLock: new Mutex(),
        codecs: { encoder: "libx264", decoder: "cpu", device: 0 },
        signal: new AbortController().signal,
        onProgress: () => {},
      }),
    async close() {
      await ops.close();
      await swapper.release();
    },
  };
}
