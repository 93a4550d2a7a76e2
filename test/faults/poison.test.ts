import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, sleep, startFaultStack, type WorkerProcess } from "./helpers.ts";

// A poisoned item takes its worker process down every time it runs (in production: the
// OOM killer, a segfault in a native decoder or execution provider). Nothing in the worker
// can catch that, so there is no hook in production code: this test plays the OOM killer
// and SIGKILLs whichever worker process starts the poisoned job. BullMQ counts each death
// as a stall; the worker allows JOB_ATTEMPTS - 1 of them, so the job is started exactly
// JOB_ATTEMPTS times, then failed, and the worker writes the reason into the ledger.
const ATTEMPTS = 3;

describe("an item that kills its worker process", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack({ env: { JOB_ATTEMPTS: String(ATTEMPTS) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("fails alone after JOB_ATTEMPTS deaths, with the reason on the item; the rest succeed", async () => {
    const [poison, ...good] = boxItems(6, "item");
    const { batchId, items } = await stack.submit([{ ...(poison as (typeof good)[0]), name: "poison.mp4" }, ...good]);
    const poisonKey = items[0]?.jobKey as string;
    let worker: WorkerProcess = await stack.spawnWorker();

    // The killer: each new start of the poisoned job (BullMQ's attemptsStarted grows)
    // kills the worker that took it; a fresh worker replaces it.
    let kills = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const job = await stack.queue.getJob(poisonKey);
      const state = await job?.getState();
      if (state === "failed" || state === "completed" || Date.now() > deadline) break;
      if (state === "active" && (job?.attemptsStarted ?? 0) > kills && kills < ATTEMPTS) {
        await worker.kill();
        kills++;
        worker = await stack.spawnWorker();
      }
      await sleep(10);
    }

    expect(await stack.waitDone(batchId)).toEqual({ pending: 0, running: 0, succeeded: 5, failed: 1 });
    expect(kills).toBe(ATTEMPTS);
    const job = await stack.queue.getJob(poisonKey);
    expect(await job?.getState()).toBe("failed");
    expect(job?.failedReason).toBe("job stalled more than allowable limit");
    expect(job?.stalledCounter).toBe(ATTEMPTS);

    const views = await stack.views(batchId);
    expect(views[0]).toMatchObject({ name: "poison.mp4", state: "failed" });
    expect(views[0]?.error).toMatch(/^the worker process died while running this item 3 time\(s\)/);
    expect(views.slice(1).every((v) => v.state === "succeeded")).toBe(true);
    // The poisoned item never got through inference; every other item ran exactly once.
    expect(await stack.runs()).toBe(5);
    const runs = await stack.runsByKey(items.map((i) => i.jobKey));
    expect(runs.get(poisonKey)).toBe(0);
  });
});
