import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, sleep, startFaultStack, until, type WorkerProcess } from "./helpers.ts";

// Workers die by SIGKILL (no handler runs, as with the OOM killer or a power cut). BullMQ's
// stalled-job check hands their job to another worker; the result index keeps finished
// work from running again.
describe("worker processes killed mid-batch", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    // Three kills may land on the same job: four attempts keep that from failing it.
    stack = await startFaultStack({ env: { JOB_ATTEMPTS: "4" } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes a 30-item batch across 3 SIGKILLs without redoing finished items", async () => {
    const { batchId, items } = await stack.submit(boxItems(30, "kill"));
    const keys = items.map((i) => i.jobKey);
    let worker: WorkerProcess = await stack.spawnWorker();
    // Runs of each item seen succeeded before a kill, as they stood then: a finished item never
    // runs again. (An item killed mid-run at an earlier kill may have finished with 2 runs.)
    const runsWhenSucceeded = new Map<string, number>();
    const runningAtKill = new Set<string>();

    for (let kill = 0; kill < 3; kill++) {
      // Let a few items finish, then kill at a random moment while one is running.
      const target = (kill + 1) * 6 + Math.floor(Math.random() * 3);
      await until(
        `${target} items succeeded`,
        async () => (await stack.ledger.batches.counts(batchId)).succeeded >= target,
      );
      await sleep(Math.random() * 600);
      const running = await stack.keysInState(keys, "running");
      const succeeded = await stack.keysInState(keys, "succeeded");
      const runsNow = await stack.runsByKey(succeeded);
      await worker.kill();
      for (const k of succeeded) if (!runsWhenSucceeded.has(k)) runsWhenSucceeded.set(k, runsNow.get(k) ?? 0);
      for (const k of running) runningAtKill.add(k);
      worker = await stack.spawnWorker();
    }

    expect(await stack.waitDone(batchId, 90_000)).toEqual({ pending: 0, running: 0, succeeded: 30, failed: 0 });
    await stack.verifyOutputs(batchId);

    const runs = await stack.runsByKey(keys);
    for (const [k, n] of runsWhenSucceeded) {
      expect(n, `succeeded with no run counted: ${k}`).toBeGreaterThanOrEqual(1);
      expect(runs.get(k), `finished before a kill, then run again: ${k}`).toBe(n);
    }
    const redone = keys.filter((k) => (runs.get(k) ?? 0) > 1);
    for (const k of keys) expect(runs.get(k)).toBeGreaterThanOrEqual(1);
    // Only an item that was running when its worker died may have run twice (killed after
    // inference, before its result was recorded).
    for (const k of redone) expect(runningAtKill.has(k), `ran twice without being killed: ${k}`).toBe(true);
    expect(await stack.runs()).toBe(30 + redone.length);
    expect(runsWhenSucceeded.size).toBeGreaterThanOrEqual(18);
    expect(runningAtKill.size).toBeGreaterThan(0); // the kills did land mid-item
  });

  it("hands a killed worker's job to the other worker on the queue", async () => {
    await stack.killWorkers();
    // One frame per model call: long enough that the kill lands mid-job.
    const a = await stack.spawnWorker("a", { INFERENCE_BATCH_SIZE: "1" });
    const b = await stack.spawnWorker("b", { INFERENCE_BATCH_SIZE: "1" });
    // b stays busy with nothing else.
    const before = await stack.runs();
    const { batchId, items } = await stack.submit(boxItems(1, "pair", 100));
    const jobKey = items[0]?.jobKey as string;
    // The worker running the job is the one with ffmpeg/ffprobe children.
    const victim = await until("one worker to run the job", async () => {
      const busy = [a, b].filter((w) => childrenOf(w.child.pid as number).length > 0);
      return busy.length === 1 ? busy[0] : undefined;
    });
    expect(await stack.ledger.jobs.state(jobKey)).toMatchObject({ state: "running" });
    await victim.kill();
    expect(await stack.waitDone(batchId, 30_000)).toMatchObject({ succeeded: 1, failed: 0 });
    const after = await stack.queue.getJob(jobKey);
    expect(after?.stalledCounter).toBe(1);
    await stack.verifyOutputs(batchId);
    expect(await stack.runs()).toBeLessThanOrEqual(before + 2);
    expect(await stack.runs()).toBeGreaterThanOrEqual(before + 1);
  });
});

/** Pids of a process's children (pgrep exits 1 when there are none). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
