/**
 * One long item on one worker process vs two: a 60 s 256x144 item with SEGMENT_SECONDS=10
 * (6 segments), demo model, real worker processes (test/faults/helpers.ts). Reports each
 * run's wall time, the workers' CPU seconds (user+sys, with their ffmpeg children) and the
 * ratio. On a machine with fewer free cores than two workers use, the second worker mostly
 * takes CPU from the first: read the CPU figures and the load average with the ratio.
 *
 * Run: pnpm bench segments   (or: node test/bench/segments.bench.ts)
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startFaultStack, type WorkerProcess } from "../faults/helpers.ts";
import { cpuSeconds } from "../harness/cpu.ts";

const SECONDS = 60;
const SEGMENT_SECONDS = 10;

export default async function segmentsBench(): Promise<void> {
  const stack = await startFaultStack({
    seconds: SECONDS,
    videos: 1,
    audios: 2,
    size: { width: 256, height: 144 },
    env: { SEGMENT_SECONDS: String(SEGMENT_SECONDS) },
  });
  try {
    const rows: string[] = [];
    const walls: number[] = [];
    for (const [run, workers] of [1, 2].entries()) {
      const procs: WorkerProcess[] = [];
      for (let i = 0; i < workers; i++) procs.push(await stack.spawnWorker(`w${run}-${i}`));
      const load = os.loadavg()[0]?.toFixed(2);
      const started = Date.now();
      // A different audio per run: a new job key, nothing reused from the first run.
      const { batchId, items } = await stack.submit([
        { name: `long-${run}.mp4`, audio: run, params: { box: [40, 20, 96, 96] } },
      ]);
      const counts = await stack.waitDone(batchId, 1_800_000);
      const wall = (Date.now() - started) / 1000;
      const cpu = procs.reduce((a, p) => a + cpuSeconds(p.child.pid as number), 0);
      const runs = await stack.ledger.segments.runs(items[0]?.jobKey as string);
      for (const p of procs) await p.kill();
      walls.push(wall);
      rows.push(
        `${workers} worker${workers > 1 ? "s" : " "}: ${counts.succeeded}/1 ok, ${runs.size} segments, ` +
          `wall ${wall.toFixed(1)} s, worker CPU ${cpu.toFixed(1)} s, load at start ${load}`,
      );
    }
    const [one, two] = walls as [number, number];
    rows.push(
      `two workers vs one: ${(one / two).toFixed(2)}x faster (${os.cpus().length} cores; ` +
        `${SECONDS} s item, ${SEGMENT_SECONDS} s segments, 256x144)`,
    );
    console.log(rows.join("\n"));
  } finally {
    await stack.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await segmentsBench();
