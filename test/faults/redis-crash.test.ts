import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, sleep, startFaultStack, until } from "./helpers.ts";

// Redis runs with AOF (fsync every second). SIGKILL of redis-server loses nothing it
// acknowledged (its AOF writes are in the OS page cache); the workers' and this
// process's ioredis connections reconnect by themselves once it is back.
describe("redis-server killed mid-batch", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes the batch after Redis restarts on the same port and data dir, redoing nothing finished", async () => {
    const { batchId, items } = await stack.submit(boxItems(16, "redis"));
    const keys = items.map((i) => i.jobKey);
    const workers = [await stack.spawnWorker("a"), await stack.spawnWorker("b")];

    await until("5 items succeeded", async () => (await stack.ledger.batches.counts(batchId)).succeeded >= 5);
    await sleep(Math.random() * 400);
    const succeededBefore = await stack.keysInState(keys, "succeeded");
    const runningBefore = await stack.keysInState(keys, "running");
    await stack.crashRedis(500);

    expect(await stack.waitDone(batchId, 60_000)).toEqual({ pending: 0, running: 0, succeeded: 16, failed: 0 });
    await stack.verifyOutputs(batchId);
    // The same worker processes carried on: their connections came back by themselves.
    for (const w of workers) expect(w.child.exitCode, `${w.name} exited:\n${w.logs().slice(-3000)}`).toBeNull();

    const runs = await stack.runsByKey(keys);
    for (const k of succeededBefore) expect(runs.get(k), `finished before the crash: ${k}`).toBe(1);
    const redone = keys.filter((k) => (runs.get(k) ?? 0) > 1);
    for (const k of redone) expect(runningBefore, `ran twice but was not running at the crash: ${k}`).toContain(k);
    for (const k of keys) expect(runs.get(k)).toBeGreaterThanOrEqual(1);
    expect(await stack.runs()).toBe(16 + redone.length);
  });
});
