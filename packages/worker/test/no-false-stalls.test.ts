import { type ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { calibratedFixedCostModel } from "../scripts/test-models.ts";
import { startWorker } from "../src/index.ts";
import type { JobOutput, Span } from "../src/processor.ts";
import { startWorkerHarness, type WorkerHarness, watchStalls } from "./helpers.ts";

/** A child that keeps one core busy until killed. */
const burnCore = (): ChildProcess => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });

/**
 * The default lock (WORKER_LOCK_DURATION_MS) is short enough to find an unsupervised death
 * quickly, and still long enough that a busy machine never takes a live job for a dead one
 * (docs/architecture.md#worker-deaths).
 */
describe("default lock and stalled check under load", () => {
  let h: WorkerHarness;
  let video: string;
  let audio: string;
  let slowModel: string;

  beforeAll(async () => {
    h = await startWorkerHarness();
    // 4 s at 25 fps in batches of 5: 20 model calls of ~0.8 s, twice the lock even unloaded.
    await makeVideo(path.join(h.infra.dir, "v.mp4"), { seconds: 4, width: 160, height: 120 });
    video = await h.putFile(path.join(h.infra.dir, "v.mp4"));
    await makeAudio(path.join(h.infra.dir, "a.wav"), { seconds: 4 });
    audio = await h.putFile(path.join(h.infra.dir, "a.wav"));
    slowModel = await h.putBlob(Buffer.from(await calibratedFixedCostModel(800)));
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it("a job longer than several locks, with every core busy, runs once and is never stalled", async () => {
    const config = h.config({ INFERENCE_BATCH_SIZE: 5 });
    // The defaults, not a test's own timings: the worker takes them from its config.
    expect(config.WORKER_LOCK_DURATION_MS).toBe(8000);
    expect(config.WORKER_STALLED_INTERVAL_MS).toBe(2000);
    const burners = Array.from({ length: os.availableParallelism() }, burnCore);
    const worker = await startWorker(config, {});
    const { stalled, close: stopWatching } = await watchStalls(h, worker);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    try {
      const before = await h.runs();
      delay.enable();
      const { batchId, items } = await h.submit(slowModel, [{ name: "long", video, audio }]);
      expect(await h.waitDone(batchId, 300_000)).toMatchObject({ succeeded: 1 });
      delay.disable();
      const job = await h.finishedJob(items[0]?.jobKey as string);
      const infer = (job.returnvalue as JobOutput).spans?.infer as Span;
      // The job held its lock across many renewals: it outlasted the lock twice over.
      expect(infer[1] - infer[0]).toBeGreaterThan(2 * config.WORKER_LOCK_DURATION_MS);
      expect(await h.runs()).toBe(before + 1);
      expect(job.attemptsStarted).toBe(1);
      expect(job.stalledCounter).toBe(0);
      expect(stalled).toEqual([]);
      console.log(
        `no-false-stalls: job ${((infer[1] - infer[0]) / 1000).toFixed(1)} s with ${burners.length} cores busy, ` +
          `event loop delay max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms ` +
          `(lock ${config.WORKER_LOCK_DURATION_MS} ms, renewed every ${config.WORKER_LOCK_DURATION_MS / 2} ms); load ${os.loadavg()[0]?.toFixed(2)}`,
      );
    } finally {
      for (const b of burners) b.kill("SIGKILL");
      await stopWatching();
      await worker.close();
    }
  }, 360_000);
});
