/**
 * What a small item costs besides its frames: 100 items of 0.4 s (10 frames) at 128x128 with
 * the demo model, one in-process worker at its defaults (issue 22's goal: <= 0.2 s per item).
 * Prints the wall time per item and where an item's job spends it, averaged over the items:
 * each stage's span as the job recorded it (BullMQ's return value), the job's other time
 * (ledger, scratch, queue steps inside the processor) and the time between jobs (BullMQ
 * taking the next one). With prefetch, jobs overlap: the per-item wall time is what counts.
 *
 * Runs three rounds on the same worker setup, each with its own audios (new job keys): one
 * clip under every item with prefetch off, then on (WORKER_PREFETCH), then every item its own
 * clip at the default prefetch: a worker keeps a clip's probe and decoded frames
 * (docs/architecture.md#probes-audio-and-decoded-clips), which only the first two rounds reuse.
 *
 * Run: pnpm bench tiny   (or: node test/bench/tiny.bench.ts)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "@mediaq/shared";
import { DEMO_MODEL_PATH } from "../../packages/worker/scripts/make-demo-model.ts";
import { startWorker } from "../../packages/worker/src/index.ts";
import { startWorkerHarness } from "../../packages/worker/test/helpers.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const ITEMS = 100;
/** The stages an item's job times (pipeline.ts), in the order they run. */
const STAGES = ["fetch", "probe", "track", "model", "audio", "mel", "infer", "upload", "record"];

export default async function tinyBench(): Promise<void> {
  const h = await startWorkerHarness();
  try {
    const f = (n: string) => path.join(h.infra.dir, n);
    await makeVideo(f("v.mp4"), { seconds: 0.4, width: 128, height: 128 });
    const video = await h.putFile(f("v.mp4"));
    const model = await h.putFile(DEMO_MODEL_PATH);
    // One audio per item and round (every item a new job key, its audio fetched): one WAV,
    // its last sample changed per item.
    await makeAudio(f("a.wav"), { seconds: 0.4, frequency: 150 });
    const wav = fs.readFileSync(f("a.wav"));
    const audios: string[] = [];
    for (let i = 0; i < 3 * (ITEMS + 1); i++) {
      const variant = Buffer.from(wav);
      variant.writeInt16LE(i, variant.length - 2);
      audios.push(await h.putBlob(variant));
    }
    // The third round's clips: the same picture, each with its own tone (other bytes).
    const videos: string[] = [];
    for (let i = 0; i < ITEMS; i++) {
      await makeVideo(f(`v${i}.mp4`), { seconds: 0.4, width: 128, height: 128, frequency: 300 + i });
      videos.push(await h.putFile(f(`v${i}.mp4`)));
    }
    const defaultPrefetch = configSchema.parse({}).WORKER_PREFETCH;
    const rounds = [
      { prefetch: false, clips: "one clip" },
      { prefetch: true, clips: "one clip" },
      { prefetch: defaultPrefetch, clips: "a clip per item" },
    ];
    for (const [r, { prefetch, clips }] of rounds.entries()) {
      const round = audios.slice(r * (ITEMS + 1), (r + 1) * (ITEMS + 1));
      const videoOf = (i: number) => (clips === "one clip" ? video : (videos[i] as string));
      const worker = await startWorker(h.config({ WORKER_PREFETCH: prefetch }), { prefetch });
      try {
        // One item first: the model's download and session are the worker's, not an item's.
        const warm = await h.submit(model, [{ name: "warm", video, audio: round[ITEMS] as string }]);
        await h.waitDone(warm.batchId, 120_000);
        const load = os.loadavg()[0]?.toFixed(2);
        const cpuBefore = machineCpuSeconds();
        const started = Date.now();
        const { batchId, items } = await h.submit(
          model,
          round.slice(0, ITEMS).map((audio, i) => ({ name: `tiny-${i}`, video: videoOf(i), audio })),
        );
        const counts = await h.waitDone(batchId, 1_200_000);
        const wall = (Date.now() - started) / 1000;
        const cpu = machineCpuSeconds() - cpuBefore;
        const sums: Record<string, number> = {};
        let inJobs = 0;
        for (const item of items) {
          const job = await h.finishedJob(item.jobKey);
          const spans = (job.returnvalue as { spans?: Record<string, [number, number]> }).spans ?? {};
          for (const [name, [a, b]] of Object.entries(spans)) sums[name] = (sums[name] ?? 0) + (b - a) / 1000;
          inJobs += ((job.finishedOn ?? 0) - (job.processedOn ?? 0)) / 1000;
        }
        const ms = (s: number) => `${((1000 * s) / ITEMS).toFixed(0)} ms`;
        const staged = STAGES.reduce((a, s) => a + (sums[s] ?? 0), 0);
        const result = await h.ledger.jobs.getResult(items[0]?.jobKey as string);
        console.log(
          [
            `${counts.succeeded}/${ITEMS} ok; ${ITEMS} items of 0.4 s at 128x128, ${clips}, prefetch ${prefetch ? "on" : "off"}${prefetch === defaultPrefetch ? " (the default)" : ""}, ` +
              `${os.availableParallelism()} cores, load at start ${load}`,
            `wall ${wall.toFixed(1)} s = ${(wall / ITEMS).toFixed(3)} s per item (goal <= 0.2 s); ` +
              `the machine's CPU (all processes: worker, its ffmpeg, Redis, S3 server) ${(cpu / ITEMS).toFixed(3)} s per item`,
            `per item, mean of the job's spans: ${STAGES.map((s) => `${s} ${ms(sums[s] ?? 0)}`).join(", ")}`,
            `  inside infer (first item's busy seconds): ${["decode", "preprocess", "inference", "paste", "encode"]
              .map((s) => `${s} ${((result?.timings?.[s] ?? 0) * 1000).toFixed(0)} ms`)
              .join(", ")}`,
            `  job total ${ms(inJobs)} (of which outside the stages: ledger start, scratch, progress ${ms(inJobs - staged)})`,
          ].join("\n"),
        );
      } finally {
        await worker.close();
      }
    }
  } finally {
    await h.stop();
  }
}

/** CPU seconds every core of the machine spent busy since boot (user, nice, system, irq, softirq, steal). */
function machineCpuSeconds(): number {
  return os.cpus().reduce((sum, c) => sum + (c.times.user + c.times.nice + c.times.sys + c.times.irq) / 1000, 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await tinyBench();
