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
 * Each line gives the wall time and its ratio to T, measured in the same run. The three runs
 * are made twice: with segments at the default SEGMENT_SECONDS (the goal: a death
 * costs the segment in flight), then with SEGMENT_SECONDS=3600 (one job: the item is redone
 * whole), where the gap from the kill until another worker runs the item is also given (the
 * part a death adds besides the lost work).
 *
 * Run: pnpm bench failover
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "@mediaq/shared";
import { superviseWorkers } from "../../packages/cli/src/supervisor.ts";
import { type FaultStack, startFaultStack, until } from "../faults/helpers.ts";

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
  let box = 0;
  try {
    const out: string[] = [];
    for (const segmentSeconds of [defaults.SEGMENT_SECONDS, 3600]) {
      // The defaults, not the fault tests' fast stalls.
      const env = {
        ...stack.workerEnv,
        WORKER_LOCK_DURATION_MS: String(defaults.WORKER_LOCK_DURATION_MS),
        WORKER_STALLED_INTERVAL_MS: String(defaults.WORKER_STALLED_INTERVAL_MS),
        SEGMENT_SECONDS: String(segmentSeconds),
      };
      const whole = segmentSeconds >= 600;
      out.push(
        whole
          ? "SEGMENT_SECONDS=3600 (one job: the item is redone whole)"
          : `SEGMENT_SECONDS=${segmentSeconds} (the default: ${Math.ceil(600 / segmentSeconds)} segments)`,
      );
      // A new job key per run: the box moves by a pixel.
      out.push(...(await scenarios(stack, env, whole, () => box++)));
    }
    console.log(
      `one 10-minute 256x144 item (15,000 frames), killed at 40% of its undisturbed time; ` +
        `lock ${defaults.WORKER_LOCK_DURATION_MS} ms, stalled check ${defaults.WORKER_STALLED_INTERVAL_MS} ms, ` +
        `${os.availableParallelism()} cores\n${out.join("\n")}`,
    );
  } finally {
    await stack.stop();
  }
}

/** Alone, supervised kill, unsupervised kill: one line each. */
async function scenarios(
  stack: FaultStack,
  env: Record<string, string>,
  whole: boolean,
  nextBox: () => number,
): Promise<string[]> {
  const logDir = fs.mkdtempSync(path.join(stack.infra.dir, "bench-logs-"));
  const submit = () => stack.submit([{ name: "ten-minutes.mp4", params: { box: [nextBox(), 0, 96, 96] } }]);
  const timeToDone = async (batchId: string, since: number) => {
    const counts = await stack.waitDone(batchId, 1_800_000);
    if (counts.succeeded !== 1) throw new Error(`the item did not succeed: ${JSON.stringify(counts)}`);
    return (Date.now() - since) / 1000;
  };
  // The item's job is taken (it runs, or with segments waits for them after planning).
  const running = (jobKey: string, notBy?: string) =>
    until(
      "the item to run",
      async () => {
        const job = await stack.queue.getJob(jobKey);
        const by = job?.processedBy;
        const state = await job?.getState();
        return by && by !== notBy && (state === "active" || state === "waiting-children") ? by : undefined;
      },
      120_000,
    );
  /** SIGKILLs the first worker; with one job, resolves with the seconds until another worker runs the item. */
  const kill = async (jobKey: string, owner: string, killIt: () => Promise<void>) => {
    const killedAt = Date.now();
    await killIt();
    if (!whole) return "";
    await running(jobKey, owner);
    return `; running again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`;
  };
  const lines: string[] = [];
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
    const jobKey = items[0]?.jobKey as string;
    const t0 = Date.now();
    await running(jobKey);
    alone = await timeToDone(batchId, t0);
    // At the default lock, the long item's ~2 s of mel spectrogram must not look like a death.
    const job = await stack.queue.getJob(jobKey);
    lines.push(
      `  alone:        ${alone.toFixed(1)} s (load ${load()}; stalledCounter ${job?.stalledCounter}, ` +
        `model runs ${await modelRuns(stack, jobKey, whole)})`,
    );
  }

  /** The item run with a second worker beside its own, whose death `killIt` causes at 0.4 T. */
  const killedRun = async (label: string, killIt: () => Promise<void>) => {
    const { batchId, items } = await submit();
    const t0 = Date.now();
    const jobKey = items[0]?.jobKey as string;
    const owner = await running(jobKey);
    const second = await stack.spawnWorker("second", env);
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 0.4 * alone * 1000 - Date.now())));
    const gap = await kill(jobKey, owner, killIt);
    const took = await timeToDone(batchId, t0);
    lines.push(
      `  ${label} ${took.toFixed(1)} s = ${(took / alone).toFixed(2)}x alone${gap} ` +
        `(load ${load()}; model runs ${await modelRuns(stack, jobKey, whole)})`,
    );
    await second.stop();
  };
  // supervised: the supervisor hands the job back when its child dies
  await killedRun("supervised:  ", async () => {
    await first.children()[0]?.kill();
  });
  await first.stop();
  // unsupervised: found by the stalled check once the lock expires
  const plain = await stack.spawnWorker("plain", env);
  await killedRun("unsupervised:", () => plain.kill());
  return lines;
}

/** Model runs of the item: of its one job, or summed over its segments. */
async function modelRuns(stack: FaultStack, jobKey: string, whole: boolean): Promise<number> {
  if (whole) return (await stack.runsByKey([jobKey])).get(jobKey) ?? 0;
  return [...(await stack.ledger.segments.runs(jobKey)).values()].reduce((a, b) => a + b, 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await failoverBench();
