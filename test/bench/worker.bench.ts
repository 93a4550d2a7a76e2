/**
 * How busy one worker keeps its card: a batch of 12 items through an in-process worker with
 * a fixed-cost model (~0.4 s per session.run, scripts/test-models.ts), prefetch off vs on.
 * Reports the fraction of wall time the worker was inside inference (session.run) and inside
 * its inference section (first model call to last, which holds the card's lock).
 *
 * Run: pnpm bench worker   (or: node test/bench/worker.bench.ts)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { calibratedFixedCostModel } from "../../packages/worker/scripts/test-models.ts";
import { startWorker } from "../../packages/worker/src/index.ts";
import { startWorkerHarness } from "../../packages/worker/test/helpers.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const ITEMS = 12;
const RUN_MS = 400;

export default async function workerBench(): Promise<void> {
  const h = await startWorkerHarness();
  try {
    const f = (n: string) => path.join(h.infra.dir, n);
    // 2 s at 25 fps in batches of 25: two model calls per item.
    await makeVideo(f("v.mp4"), { seconds: 2, width: 320, height: 240 });
    const video = await h.putFile(f("v.mp4"));
    const audios: string[] = [];
    for (let i = 0; i < 2 * ITEMS; i++) {
      await makeAudio(f(`a${i}.wav`), { seconds: 2, frequency: 150 + 10 * i });
      audios.push(await h.putFile(f(`a${i}.wav`)));
    }
    const model = await h.putBlob(Buffer.from(await calibratedFixedCostModel(RUN_MS)));
    const rows: string[] = [];
    for (const [round, prefetch] of [false, true].entries()) {
      const worker = await startWorker(h.config({ INFERENCE_BATCH_SIZE: 25 }), { prefetch });
      const items = Array.from({ length: ITEMS }, (_, i) => ({
        name: `i${i}`,
        video,
        audio: audios[round * ITEMS + i] as string,
      }));
      const started = Date.now();
      const { batchId } = await h.submit(model, items);
      const counts = await h.waitDone(batchId, 600_000);
      const wall = (Date.now() - started) / 1000;
      const spans = await h.ledger.jobs.inferenceSpans(worker.workerId);
      await worker.close();
      const inRun = spans.reduce((a, s) => a + s.runSeconds, 0);
      const inSection = spans.reduce((a, s) => a + (s.end - s.start) / 1000, 0);
      rows.push(
        `prefetch ${prefetch ? "on " : "off"}: ${counts.succeeded}/${ITEMS} ok, wall ${wall.toFixed(1)} s, ` +
          `session.run ${inRun.toFixed(1)} s = ${((100 * inRun) / wall).toFixed(0)}% of wall, ` +
          `inference section ${inSection.toFixed(1)} s = ${((100 * inSection) / wall).toFixed(0)}% of wall`,
      );
    }
    console.log(rows.join("\n"));
  } finally {
    await h.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await workerBench();
