/**
 * What segments cost a long item (issue 22): one 10-minute 256x144 item (length=video,
 * 15,000 frames, a fixed box, demo model) on real worker processes at the default lock and
 * stalled check, in one run:
 *
 *   one job     SEGMENT_SECONDS=3600 on one worker: T (it also measures the frame cost the
 *               planner sizes segments by: the ledger's, as any earlier item would have)
 *   segmented   the defaults on one worker: goal <= 1.10 T
 *   killed      the defaults, a supervised worker SIGKILLed at 40 % of the segmented time with
 *               a second worker beside it: goal <= 1.5 T
 *
 * For each segmented run it prints the segments and the frames each one's decoder decoded
 * (its own, plus what its seek decoded before them: at most a GOP).
 *
 * Run: pnpm bench segments   (or: node test/bench/segments.bench.ts)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema, redisKeys } from "@mediaq/shared";
import { superviseWorkers } from "../../packages/cli/src/supervisor.ts";
import { type FaultStack, startFaultStack, until } from "../faults/helpers.ts";

const defaults = configSchema.parse({});
const load = () => os.loadavg()[0]?.toFixed(2);

export default async function segmentsBench(): Promise<void> {
  const stack = await startFaultStack({ seconds: 600, videos: 1, audios: 1, size: { width: 256, height: 144 } });
  const env = {
    ...stack.workerEnv,
    WORKER_LOCK_DURATION_MS: String(defaults.WORKER_LOCK_DURATION_MS),
    WORKER_STALLED_INTERVAL_MS: String(defaults.WORKER_STALLED_INTERVAL_MS),
  };
  let box = 0;
  // A new job key per run: the box moves by a pixel.
  const submit = () =>
    stack.submit([{ name: "ten-minutes.mp4", params: { box: [40 + box++, 20, 96, 96], length: "video" } }]);
  const done = async (batchId: string, since: number) => {
    const counts = await stack.waitDone(batchId, 1_800_000);
    if (counts.succeeded !== 1) throw new Error(`the item did not succeed: ${JSON.stringify(counts)}`);
    return (Date.now() - since) / 1000;
  };
  try {
    const lines: string[] = [];
    // One job.
    const single = await stack.spawnWorker("single", { ...env, SEGMENT_SECONDS: "3600" });
    let started = Date.now();
    let run = await submit();
    const one = await done(run.batchId, started);
    await single.kill();
    lines.push(`one job (SEGMENT_SECONDS=3600):  ${one.toFixed(1)} s (load ${load()})`);

    // Segmented, the defaults, one worker.
    const segWorker = await stack.spawnWorker("segmented", env);
    started = Date.now();
    run = await submit();
    const segmented = await done(run.batchId, started);
    await segWorker.kill();
    lines.push(
      `segmented (defaults, SEGMENT_SECONDS=${defaults.SEGMENT_SECONDS}): ${segmented.toFixed(1)} s = ` +
        `${(segmented / one).toFixed(2)}x one job (goal <= 1.10x; load ${load()})`,
      ...(await pieces(stack, run.items[0]?.jobKey as string)),
    );

    // Killed at 40 %: a supervised worker (its supervisor hands its segment back at once) and a second worker.
    const logDir = fs.mkdtempSync(path.join(stack.infra.dir, "bench-logs-"));
    const first = superviseWorkers({ cards: [0], env, logDir, log: () => undefined });
    await until(
      "the supervised worker to start",
      async () => fs.readFileSync(path.join(logDir, "worker-0.log"), "utf8").includes('"worker started"'),
      60_000,
    );
    started = Date.now();
    run = await submit();
    const jobKey = run.items[0]?.jobKey as string;
    const second = await stack.spawnWorker("second", env);
    await new Promise((r) => setTimeout(r, Math.max(0, started + 0.4 * segmented * 1000 - Date.now())));
    await first.children()[0]?.kill();
    const killed = await done(run.batchId, started);
    const runs = [...(await stack.ledger.segments.runs(jobKey)).values()];
    lines.push(
      `killed at 40 % with a second worker: ${killed.toFixed(1)} s = ${(killed / one).toFixed(2)}x one job ` +
        `(goal <= 1.5x; ${runs.filter((n) => n > 1).length} segment(s) run twice; load ${load()})`,
      ...(await pieces(stack, jobKey)),
      ...(await timeline(stack, jobKey, started)),
    );
    await second.stop();
    await first.stop();
    console.log(
      `one 10-minute 256x144 item (15,000 frames, length=video), demo model, ${os.availableParallelism()} cores\n` +
        lines.join("\n"),
    );
  } finally {
    await stack.stop();
  }
}

/** When each model section of the item ran (seconds from its submission), by worker process. */
async function timeline(stack: FaultStack, jobKey: string, since: number): Promise<string[]> {
  const out: { worker: string; start: number; end: number }[] = [];
  for (const key of await stack.redis.keys(`${redisKeys.inferenceSpans("")}*`))
    for (const raw of await stack.redis.lrange(key, 0, -1)) {
      const span = JSON.parse(raw) as { jobKey: string; start: number; end: number };
      if (span.jobKey === jobKey) out.push({ worker: key.slice(-8), ...span });
    }
  return [
    "  model sections (s after submission, worker):",
    ...out
      .sort((a, b) => a.start - b.start)
      .map((s) => `    ${((s.start - since) / 1000).toFixed(1)}-${((s.end - since) / 1000).toFixed(1)} ${s.worker}`),
  ];
}

/** The item's segments in order, with the frames each one's decoder decoded. */
async function pieces(stack: FaultStack, jobKey: string): Promise<string[]> {
  const all = [...(await stack.ledger.segments.pieces(jobKey)).values()].sort((a, b) => a.start - b.start);
  return [
    `  ${all.length} segments; decoded frames per segment (frames used + decoded before them):`,
    ...all.map(
      (p) =>
        `    ${p.start}-${p.start + p.count}: ${p.decoded ?? "?"} decoded for ${p.count} ` +
        `(+${(p.decoded ?? p.count) - p.count})`,
    ),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await segmentsBench();
