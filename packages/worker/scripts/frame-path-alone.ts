/**
 * The frame path alone (no queue, store or ledger), for `pnpm bench frames`: one clip with a
 * fixed box through runFramePath, the demo model run in this thread, crop and paste on their
 * thread as in the worker. Setup happens in prepare,
 * so `run` is only the frame path (docs/architecture.md#frame-path).
 */
import { Mutex } from "async-mutex";
import { melSpectrogram } from "../src/audio/mel.ts";
import { bindWav2Lip, runWav2LipBatch } from "../src/adapters/wav2lip/binding.ts";
import { FrameOpsThread } from "../src/frames/frame-ops-client.ts";
import { type FramePathResult, runFramePath } from "../src/frames/frame-path.ts";
import { createSession } from "../src/inference/create-session.ts";
import { runTensors } from "../src/inference/tensors.ts";
import { decodeAudio, fitSamples } from "../src/media/decode.ts";
import { probeVideo } from "../src/media/probe.ts";
import { DEMO_MODEL_PATH } from "./make-demo-model.ts";

/** `box` = [x, y, width, height]. */
export async function prepareFramePathAlone(
  videoFile: string,
  audioFile: string,
  outFile: string,
  box: readonly number[],
): Promise<{ run(): Promise<FramePathResult>; release(): Promise<void> }> {
  const video = await probeVideo(videoFile, "clip", Number.MAX_SAFE_INTEGER);
  const mel = melSpectrogram(fitSamples(await decodeAudio(audioFile, "audio"), video.frames / video.fps));
  const ops = new FrameOpsThread(); // as the worker runs them
  // As the inference thread creates it (no spin-waiting beside ffmpeg).
  const { session: model } = await createSession(DEMO_MODEL_PATH, {
    provider: "cpu",
    deviceId: 0,
    label: "demo model",
  });
  const binding = bindWav2Lip(model, "demo model");
  const [x = 0, y = 0, w = 0, h = 0] = box;
  return {
    async run() {
      return runFramePath({
        ...{ videoFile, videoLabel: "clip", video, audioFile, outFile, mel },
        timeline: { frames: video.frames, loop: "pingpong", bufferBytes: 0 },
        rectOf: () => ({ x1: x, y1: y, x2: x + w, y2: y + h }),
        ...{ order: "bgr", batchSize: 16, ops, cardLock: new Mutex(), onProgress: () => {} },
        codecs: { encoder: "libx264", decoder: "cpu", device: 0 },
        signal: new AbortController().signal,
        // As the inference thread runs it (inference/tensors.ts), in this thread.
        run: (batch) => runWav2LipBatch((req) => runTensors(model, req), binding, batch),
      });
    },
    async release() {
      await ops.close();
      await model.release();
    },
  };
}
