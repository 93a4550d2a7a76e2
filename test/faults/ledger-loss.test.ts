import { createSnapshot, reindexOutputs, restoreSnapshot, type SnapshotDeps } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, startFaultStack, until } from "./helpers.ts";

// Redis is lost entirely (FLUSHALL stands in for a new, empty Redis). S3 holds the truth:
// from a snapshot, or from the outputs' metadata alone, re-submitting recomputes nothing.
describe("Redis ledger lost after a batch finished", () => {
  let stack: FaultStack;
  let deps: SnapshotDeps;
  const specs = boxItems(6, "lost");
  beforeAll(async () => {
    stack = await startFaultStack();
    deps = { redis: stack.redis, s3: stack.s3, config: stack.infra.config };
    await stack.spawnWorker();
    const { batchId } = await stack.submit(specs);
    expect(await stack.waitDone(batchId)).toMatchObject({ succeeded: 6 });
    expect(await stack.runs()).toBe(6);
    // The worker records the result (what waitDone sees) before it returns to BullMQ, so
    // BullMQ marks the last job completed a moment later.
    await until(
      "BullMQ to mark the 6 jobs completed",
      async () => (await stack.queue.getJobCounts("completed")).completed === 6,
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Submits the same items again (a new batch) while a worker is live: nothing may run. */
  async function resubmitRunsNothing(runsBefore: number) {
    const { batchId } = await stack.submit(specs);
    // Every item is succeeded at submit time: nothing was queued for the worker.
    expect(await stack.ledger.batches.counts(batchId)).toEqual({ pending: 0, running: 0, succeeded: 6, failed: 0 });
    const queued = await stack.queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    expect(Object.values(queued).reduce((a, b) => a + b, 0)).toBe(0);
    await stack.verifyOutputs(batchId);
    expect(await stack.runs()).toBe(runsBefore);
  }

  it("recomputes nothing after BullMQ's completed jobs are trimmed", async () => {
    // The result index, not BullMQ's completed-job retention, is the record of done work.
    const trimmed = await stack.queue.clean(0, 10_000, "completed");
    expect(trimmed).toHaveLength(6);
    expect(await stack.queue.getJobCounts("completed")).toEqual({ completed: 0 });
    await resubmitRunsNothing(6);
  });

  it("restores from a snapshot after FLUSHALL and recomputes nothing", async () => {
    const snap = await createSnapshot(deps, { retention: 3 });
    await stack.redis.flushall();
    expect(await stack.runs()).toBe(0);
    const report = await restoreSnapshot(deps, { id: snap.id });
    // The first batch and the re-submitted one of the test before.
    expect(report).toMatchObject({ requeued: 0, batches: 2 });
    // The run counter is a stat, not ledger data: snapshots leave it out (docs/architecture.md#ledger).
    expect(await stack.runs()).toBe(0);
    await resubmitRunsNothing(0);
  });

  it("rebuilds the result index from output metadata after FLUSHALL and recomputes nothing", async () => {
    await stack.redis.flushall();
    const report = await reindexOutputs(deps);
    expect(report).toMatchObject({ objects: 6, indexed: 6, skipped: [] });
    await resubmitRunsNothing(0);
  });
});
