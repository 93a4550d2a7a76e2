/**
 * What a worker would use on this machine, tried for real: the video encoder and decoder
 * (VIDEO_ENCODER / VIDEO_DECODER, media/codecs.ts) and the ONNX Runtime execution provider
 * (ORT_EXECUTION_PROVIDER). Decodes and encodes a generated 2-second clip with the chosen
 * codecs and runs the demo model once on the chosen provider.
 *
 * Run: scripts/gpu-check.sh   (reads the same environment as the worker)
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { loadConfig } from "@mediaq/shared";
import { Tensor } from "onnxruntime-node";
import { FramePool } from "../src/frames/frame-pool.ts";
import { createSession } from "../src/inference/create-session.ts";
import { CodecUnavailableError, chooseCodecs, probeCodecCapabilities } from "../src/media/codecs.ts";
import { decodeFrames } from "../src/media/decode.ts";
import { frameBytes } from "../src/media/yuv.ts";
import { startEncoder } from "../src/media/encode.ts";
import { probeVideo } from "../src/media/probe.ts";
import { DEMO_MODEL_PATH } from "./make-demo-model.ts";

const run = promisify(execFile);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(2)} s`;

const config = loadConfig();
const caps = await probeCodecCapabilities(config.GPU_DEVICE_ID);
console.log(
  `card ${config.GPU_DEVICE_ID}: ${caps.card ?? "not found (no /dev/nvidia* device, no nvidia-smi listing)"}`,
);
console.log(
  `ffmpeg: h264_nvenc ${caps.encoders.has("h264_nvenc") ? "yes" : "no"}, cuda hwaccel ${caps.hwaccels.has("cuda") ? "yes" : "no"}`,
);
let codecs: ReturnType<typeof chooseCodecs>;
try {
  codecs = chooseCodecs(config, caps);
} catch (err) {
  if (!(err instanceof CodecUnavailableError)) throw err;
  console.log(`a worker would not start: ${err.message}`); // as the worker refuses to
  process.exit(1);
}
console.log(`encoder: ${codecs.encoder} (VIDEO_ENCODER=${config.VIDEO_ENCODER})`);
console.log(`decoder: ${codecs.decoder} (VIDEO_DECODER=${config.VIDEO_DECODER})`);
if (codecs.fallback) console.log(`  ${codecs.fallback}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-check-"));
try {
  const clip = path.join(dir, "clip.mp4");
  await run("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=2"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=2"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip],
  ]);
  const video = await probeVideo(clip, "test clip", Number.MAX_SAFE_INTEGER);
  const pool = new FramePool(frameBytes("yuv420p", video.width, video.height), 4);
  const encoder = startEncoder({
    ...video,
    audioFile: clip,
    length: "video",
    outFile: path.join(dir, "out.mp4"),
    ...codecs,
  });
  const started = performance.now();
  let frames = 0;
  for await (const frame of decodeFrames(clip, "test clip", video, "yuv420p", pool, codecs)) {
    await encoder.write(frame);
    pool.release(frame);
    frames++;
  }
  await encoder.finish();
  console.log(
    `2-second 1280x720 clip: ${frames} frames decoded (${codecs.decoder}) and encoded (${codecs.encoder}) in ${seconds(started)}`,
  );

  const { session, fellBackToCpu } = await createSession(DEMO_MODEL_PATH, {
    provider: config.ORT_EXECUTION_PROVIDER,
    deviceId: config.GPU_DEVICE_ID,
    label: "demo model",
  });
  const provider = config.ORT_EXECUTION_PROVIDER === "cpu" || fellBackToCpu !== undefined ? "cpu" : "cuda";
  console.log(`execution provider: ${provider} (ORT_EXECUTION_PROVIDER=${config.ORT_EXECUTION_PROVIDER})`);
  if (fellBackToCpu !== undefined) console.log(`  CUDA did not load: ${fellBackToCpu}`);
  const runStarted = performance.now();
  await session.run({
    mel: new Tensor("float32", new Float32Array(80 * 16), [1, 1, 80, 16]),
    face: new Tensor("float32", new Float32Array(6 * 96 * 96), [1, 6, 96, 96]),
  });
  console.log(`one session.run of the demo model (batch 1) on ${provider}: ${seconds(runStarted)}`);
  await session.release();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
