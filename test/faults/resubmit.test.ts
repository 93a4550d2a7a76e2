import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, startFaultStack } from "./helpers.ts";

// Re-submitting a finished batch with a few new items runs exactly the new ones. The 200
// first results come from the real worker on 2-frame clips (three workers: each job spends
// much of its time waiting on ffmpeg start-up and S3). This is the slowest fault test.
describe("re-submitting a finished batch plus new items", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack({ seconds: 0.08 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs exactly the 5 new items of 205", async () => {
    await Promise.all([stack.spawnWorker("a"), stack.spawnWorker("b"), stack.spawnWorker("c")]);
    const first = await stack.submit(boxItems(200, "item"));
    expect(new Set(first.items.map((i) => i.jobKey)).size).toBe(200);
    const started = Date.now();
    expect(await stack.waitDone(first.batchId, 280_000)).toMatchObject({ succeeded: 200, failed: 0 });
    console.info(`200 first runs took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await stack.runs()).toBe(200);

    const again = await stack.submit(boxItems(205, "item"));
    const counts = await stack.ledger.batches.counts(again.batchId);
    // Idle workers may have taken a new item already: 5 are pending or running.
    expect(counts.succeeded).toBe(200);
    expect(counts.pending + counts.running).toBe(5);
    expect(await stack.waitDone(again.batchId)).toEqual({ pending: 0, running: 0, succeeded: 205, failed: 0 });
    await stack.verifyOutputs(again.batchId);
    expect(await stack.runs()).toBe(205);
    const runs = await stack.runsByKey(again.items.map((i) => i.jobKey));
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);
});
