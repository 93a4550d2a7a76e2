/**
 * What a worker death costs (issue 11, part 6): one 10-minute 256x144 item (15,000 output
 * frames: a 10 s clip looped over 600 s of audio), on worker processes at the default lock
 * and stalled check (docs/architecture.md#worker-deaths).
 *
 *   alone         one supervised worker, undisturbed: T
 *   supervised    the same on a new item; once it runs, a second worker starts beside it and
 *                 the first is SIGKILLed at 0.4 T: its supervisor hands the job back at once
 *   unsupervised  the same with a plain worker process: the job waits for its lock to expire
 *                 and a stalled check (the second worker's) to find it
 *
 * Each line gives the wall time and its ratio to T, measured in the same run, and the gap
 * from the kill until another worker runs the item (the part a death adds besides the lost
 * work). Segments are off here (SEGMENT_SECONDS=3600), so the item is redone whole; with
 * them only the segment in flight is.
 *
 * Run: pnpm bench failover
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "@mediaq/shared";
import { superviseWorkers } from "../../packages/cli/src/supervisor.ts";
import { startFaultStack, until } from "../faults/helpers.ts";

const defaults = configSchema.parse({});
const load = () => os.loadavg()[0]?.toFixed(2);

export default async function failoverBench(): Promise<void> {
  const stack = await startFaultStack({
    videos: 1,
    audios: 1,
    seconds: 10,
    audioSeconds: 600,
    size: { width: 256, height: 144 },
  });
  // The defaults, not the fault tests' fast stalls.
  const env = {
    ...stack.workerEnv,
    WORKER_LOCK_DURATION_MS: String(defaults.WORKER_LOCK_DURATION_MS),
    WORKER_STALLED_INTERVAL_MS: String(defaults.WORKER_STALLED_INTERVAL_MS),
    // One job for the whole item, as the issue measured it: what a death costs besides the
    // lost work (with segments the lost work is one segment: pnpm bench segments).
    SEGMENT_SECONDS: "3600",
  };
  const logDir = path.join(stack.infra.dir, "bench-logs");
  fs.mkdirSync(logDir, { recursive: true });
  let box = 0;
  // A new job key per run: the box moves by a pixel.
  const submit = () => stack.submit([{ name: "ten-minutes.mp4", params: { box: [box++, 0, 96, 96] } }]);
  const timeToDone = async (batchId: string, since: number) => {
    const counts = await stack.waitDone(batchId, 1_800_000);
    if (counts.succeeded !== 1) throw new Error(`the item did not succeed: ${JSON.stringify(counts)}`);
    return (Date.now() - since) / 1000;
  };
  const running = (jobKey: string, notBy?: string) =>
    until(
      "the item to run",
      async () => {
        const job = await stack.queue.getJob(jobKey);
        const by = job?.processedBy;
        return by && by !== notBy && (await job.getState()) === "active" ? by : undefined;
      },
      120_000,
    );
  /** SIGKILLs the item's worker; resolves with the seconds until another worker runs the item. */
  const killAndTimeGap = async (jobKey: string, owner: string, kill: () => Promise<void>) => {
    const killedAt = Date.now();
    await kill();
    await running(jobKey, owner);
    return (Date.now() - killedAt) / 1000;
  };

  try {
    const lines: string[] = [];
    // alone
    const first = superviseWorkers({ cards: [0], env, logDir, log: () => undefined });
    // Timed from a started worker, as the others are.
    await until(
      "the supervised worker to start",
      async () => fs.readFileSync(path.join(logDir, "worker-0.log"), "utf8").includes('"worker started"'),
      60_000,
    );
    let alone: number;
    {
      const { batchId, items } = await submit();
      const t0 = Date.now();
      await running(items[0]?.jobKey as string);
      alone = await timeToDone(batchId, t0);
      // At the default lock, the long item's ~2 s of mel spectrogram must not look like a death.
      const job = await stack.queue.getJob(items[0]?.jobKey as string);
      lines.push(
        `alone:        ${alone.toFixed(1)} s (load ${load()}; stalledCounter ${job?.stalledCounter}, ` +
          `runs ${(await stack.runsByKey([items[0]?.jobKey as string])).get(items[0]?.jobKey as string)})`,
      );
    }

    // supervised: the supervisor hands the job back when its child dies
    {
      const { batchId, items } = await submit();
      const t0 = Date.now();
      const jobKey = items[0]?.jobKey as string;
      const owner = await running(jobKey);
      const second = await stack.spawnWorker("second", env);
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 0.4 * alone * 1000 - Date.now())));
      const gap = await killAndTimeGap(jobKey, owner, async () => {
        await first.children()[0]?.kill();
      });
      const took = await timeToDone(batchId, t0);
      lines.push(
        `supervised:   ${took.toFixed(1)} s = ${(took / alone).toFixed(2)}x alone; running again ${gap.toFixed(1)} s after the kill (load ${load()})`,
      );
      await second.stop();
    }
    await first.stop();

    // unsupervised: found by the stalled check once the lock expires
    {
      const plain = await stack.spawnWorker("plain", env);
      const { batchId, items } = await submit();
      const t0 = Date.now();
      const jobKey = items[0]?.jobKey as string;
      const owner = await running(jobKey);
      const second = await stack.spawnWorker("second", env);
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 0.4 * alone * 1000 - Date.now())));
      const gap = await killAndTimeGap(jobKey, owner, async () => {
        await plain.kill();
      });
      const took = await timeToDone(batchId, t0);
      lines.push(
        `unsupervised: ${took.toFixed(1)} s = ${(took / alone).toFixed(2)}x alone; running again ${gap.toFixed(1)} s after the kill (load ${load()})`,
      );
      await second.stop();
    }
    console.log(
      `one 10-minute 256x144 item (15,000 frames), killed at 40% of its undisturbed time; ` +
        `lock ${defaults.WORKER_LOCK_DURATION_MS} ms, stalled check ${defaults.WORKER_STALLED_INTERVAL_MS} ms, ` +
        `${os.availableParallelism()} cores\n${lines.join("\n")}`,
    );
  } finally {
    await stack.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await failoverBench();
