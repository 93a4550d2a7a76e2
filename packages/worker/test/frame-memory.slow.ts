/**
 * The frame path's memory is bounded by its frame pool, not by the clip: a worker's RSS while
 * it lip-syncs a 1280x720 clip of 3000 frames (2 minutes at 25 fps) stays within the pool
 * (docs/architecture.md#frame-path) plus a fixed allowance, and does not grow from the first
 * third of the job to the last. Minutes long on a 2-core machine: `pnpm test:slow`.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { framesInFlight } from "../src/frames/encode-frames.ts";
import { startWorker } from "../src/index.ts";
import { frameBytes } from "../src/media/yuv.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const MB = 1024 * 1024;
const W = 1280;
const H = 720;
const SECONDS = 120;
const BATCH = 16; // INFERENCE_BATCH_SIZE's default
/** Beyond the pool: face and mel tensors of the batches in flight, pipe buffers, GC slack. */
const ALLOWANCE = 96 * MB;

describe("frame path memory (slow)", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startWorkerHarness();
  }, 600_000);
  afterAll(async () => h?.stop());

  it("keeps the worker's RSS within the frame pool on a 3000-frame 720p clip", async () => {
    const f = (n: string) => path.join(h.infra.dir, n);
    await makeVideo(f("long.mp4"), { seconds: SECONDS, width: W, height: H });
    await makeAudio(f("long.wav"), { seconds: SECONDS });
    await makeVideo(f("warm.mp4"), { seconds: 1, width: W, height: H });
    await makeAudio(f("warm.wav"), { seconds: 1 });
    const model = await h.putFile(DEMO_MODEL_PATH);
    const audio = await h.putFile(f("long.wav"));
    // One job's frame path over all 3000 frames: segments (docs/architecture.md#segments)
    // would split the 2-minute item into two jobs.
    const worker = await startWorker(h.config({ INFERENCE_BATCH_SIZE: BATCH, SEGMENT_SECONDS: 3600 }));
    try {
      // Warm up: model, frame ops and ffmpeg all loaded once, so the baseline includes them.
      // (1 s of audio: with the long audio the warm-up alone would be 3000 frames.)
      const warmAudio = await h.putFile(f("warm.wav"));
      const warm = await h.submit(model, [{ name: "warm", video: await h.putFile(f("warm.mp4")), audio: warmAudio }]);
      expect(await h.waitDone(warm.batchId, 120_000)).toMatchObject({ succeeded: 1 });
      global.gc?.();
      const baseline = process.memoryUsage().rss;

      const samples: { at: number; rss: number }[] = [];
      const timer = setInterval(() => samples.push({ at: Date.now(), rss: process.memoryUsage().rss }), 100);
      const started = Date.now();
      const { batchId, items } = await h.submit(model, [
        { name: "long", video: await h.putFile(f("long.mp4")), audio },
      ]);
      try {
        expect(await h.waitDone(batchId, 1_500_000)).toMatchObject({ succeeded: 1 });
      } finally {
        clearInterval(timer);
      }
      const result = await h.ledger.jobs.getResult(items[0]?.jobKey as string);
      const frameSeconds = (result?.timings as Record<string, number>).infer as number;
      const pool = framesInFlight(BATCH) * frameBytes("yuv420p", W, H);
      const peak = Math.max(...samples.map((s) => s.rss));
      const third = (Date.now() - started) / 3;
      const peakOf = (from: number, to: number) =>
        Math.max(...samples.filter((s) => s.at - started >= from && s.at - started < to).map((s) => s.rss));
      const first = peakOf(0, third);
      const last = peakOf(2 * third, 3 * third);
      console.log(
        `3000 frames in ${frameSeconds.toFixed(1)} s; RSS baseline ${(baseline / MB).toFixed(0)} MB, ` +
          `peak +${((peak - baseline) / MB).toFixed(0)} MB (pool ${(pool / MB).toFixed(0)} MB + allowance ` +
          `${ALLOWANCE / MB} MB); peak in first third ${(first / MB).toFixed(0)} MB, in last third ${(last / MB).toFixed(0)} MB`,
      );
      expect(samples.length).toBeGreaterThan(100);
      expect(peak - baseline).toBeLessThanOrEqual(pool + ALLOWANCE);
      // Bounded, not merely large enough: the last third holds no more than the first.
      expect(last).toBeLessThanOrEqual(first + 32 * MB);
    } finally {
      await worker.close();
    }
  }, 1_800_000);
});
