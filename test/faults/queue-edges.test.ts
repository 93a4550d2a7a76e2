import { canonicalJson, createInferenceQueue, createRedis, Ledger, sha256Hex, withdrawJob } from "@mediaq/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningApi, startApi } from "@mediaq/api";
import { startInfra, type TestInfra } from "../harness/infra.ts";
import { gate, PLAN, type QueueWorld, type StandIns, startQueueWorld } from "./stand-ins.ts";

/**
 * Issue 21's queue edges, against a real redis-server, S3 server, BullMQ and the API: a
 * retry while a sibling segment still runs (failure 2), a retry that lands while BullMQ
 * holds the item with a child's deferred failure (failure 3), and a submit replayed after
 * the API died between its ledger write and its queue write (failure 6). Stand-in workers
 * make the worker's own ledger and queue calls (stand-ins.ts).
 */

const TENANT = "acme";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (s: { start: number; count: number }) => `${s.start}-${s.start + s.count}`;
const [FIRST, SECOND] = PLAN.map(range) as [string, string];

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("retrying a long item at the queue's edges", () => {
  let world: QueueWorld | undefined;
  let api: RunningApi;
  let w: StandIns;

  beforeAll(async () => {
    world = await startQueueWorld();
    ({ api, w } = world);
  });
  afterAll(async () => {
    await world?.stop();
  });
  afterEach(async () => {
    for (const g of w.gates.values()) g.open();
    w.gates.clear();
    w.script.clear();
    w.runs.clear();
    await w.queue.resume();
  });

  const retry = async (batchId: string) => {
    const res = await fetch(`${api.url}/v1/batches/${batchId}/retry`, {
      method: "POST",
      headers: { authorization: "Bearer key-acme" },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { retried: number };
  };
  const waitDone = (batchId: string, timeoutMs = 15_000) =>
    until(
      `batch ${batchId} done`,
      async () => {
        const s = await w.ledger.batches.status(batchId);
        return s.done ? s : undefined;
      },
      timeoutMs,
    );

  it("failure 2: a retry while a sibling segment still runs runs the item again", async () => {
    w.script.set(FIRST, ["bad-input", "ok"]);
    const held = gate();
    w.gates.set(SECOND, held);
    const { batchId, jobKey } = await w.submitLong(TENANT);

    // The first segment fails the item; BullMQ fails the item's job while the second runs on.
    await until("the item's job failed", async () => (await w.queue.getJob(jobKey))?.isFailed());
    expect((await w.ledger.jobs.state(jobKey)).state).toBe("failed");
    expect(await (await w.segmentQueue.getJob(`${jobKey}-${SECOND}`))?.isActive()).toBe(true);

    expect((await retry(batchId)).retried).toBe(1);
    // Ledger and BullMQ agree at once: the item is pending and its job runs again (a worker
    // may have taken it already).
    const job = await w.queue.getJob(jobKey);
    expect(["waiting", "active", "waiting-children"]).toContain(await job?.getState());
    held.open();

    const s = await waitDone(batchId);
    expect(s.counts).toMatchObject({ succeeded: 1, failed: 0, pending: 0, running: 0 });
    expect(w.runs.get(FIRST)).toBe(2);
    expect(w.runs.get(SECOND)).toBe(1);
  });

  it("failure 3: a retry landing before a worker takes the failed-child item is not undone", async () => {
    w.script.set(FIRST, ["error", "error", "ok"]);
    const first = gate();
    w.gates.set(FIRST, first);
    const { batchId, jobKey } = await w.submitLong(TENANT);
    await until("the item waits for its segments", async () => (await w.queue.getJob(jobKey))?.isWaitingChildren());
    // No item worker takes the item's job while the segment fails and the retry comes.
    await w.queue.pause();
    first.open();
    await until("the item failed in the ledger", async () => (await w.ledger.jobs.state(jobKey)).state === "failed");
    const job = await until("BullMQ holds the item with a deferred failure", async () => {
      const j = await w.queue.getJob(jobKey);
      return j?.deferredFailure && ["waiting", "paused"].includes(await j.getState()) ? j : undefined;
    });
    expect(job.deferredFailure).toMatch(/failed/);

    expect((await retry(batchId)).retried).toBe(1);
    await w.queue.resume();

    const s = await waitDone(batchId);
    const [view] = await w.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error ?? "").not.toMatch(/worker process died/);
    expect(s.counts).toMatchObject({ succeeded: 1, failed: 0 });
    expect(w.runs.get(FIRST)).toBe(3);
  });

  it("failure 3, a sibling still running: the retry is deferred, then the item runs again", async () => {
    w.script.set(FIRST, ["bad-input", "ok"]);
    const [first, held] = [gate(), gate()];
    w.gates.set(FIRST, first);
    w.gates.set(SECOND, held);
    const { batchId, jobKey } = await w.submitLong(TENANT);
    await until("the item waits for its segments", async () => (await w.queue.getJob(jobKey))?.isWaitingChildren());
    await w.queue.pause();
    first.open();
    await until("BullMQ holds the item with a deferred failure", async () => {
      const j = await w.queue.getJob(jobKey);
      return j?.deferredFailure && ["waiting", "paused"].includes(await j.getState());
    });
    expect(await (await w.segmentQueue.getJob(`${jobKey}-${SECOND}`))?.isActive()).toBe(true);

    // BullMQ cannot remove the job (a segment is locked): its outbox entry stays.
    expect((await retry(batchId)).retried).toBe(1);
    expect(await w.ledger.batches.outboxOf(batchId)).toHaveLength(1);
    await w.queue.resume();
    // The worker that fails it for the segment finds it pending again and runs it again.
    await until("the item's job runs again", async () => (await w.queue.getJob(jobKey))?.isWaitingChildren());
    held.open();

    const s = await waitDone(batchId);
    const [view] = await w.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error ?? "").toBe("");
    expect(s.counts).toMatchObject({ succeeded: 1, failed: 0 });
    expect(w.runs.get(FIRST)).toBe(2);
  });

  it("a cancel's withdraw keeps the job a concurrent submit attached to meanwhile", async () => {
    await w.queue.pause(); // no worker takes it: the job waits throughout
    const { batchId, jobKey } = await w.submitLong(TENANT);
    // The cancel's ledger step: no batch waits on the job key any more.
    expect((await w.ledger.batches.cancel(batchId)).orphaned).toEqual([jobKey]);
    // Another batch submits the same work before the cancel withdraws the job: its queue
    // write sees the job still waiting and adds nothing.
    const again = await w.submitSame(TENANT, jobKey);
    expect(await w.queue.getJob(jobKey)).toBeDefined();
    // The cancel's queue step.
    expect(await withdrawJob(w.queue, w.ledger, jobKey)).toBe(false);
    expect(["waiting", "paused"]).toContain(await (await w.queue.getJob(jobKey))?.getState());
    await w.queue.resume();
    expect((await waitDone(again)).counts).toMatchObject({ succeeded: 1 });
  });
});

describe("a submit replayed after the API died between ledger and queue", () => {
  let infra: TestInfra;

  beforeAll(async () => {
    infra = await startInfra({ env: { API_KEYS: `${TENANT}:key-acme`, API_HOST: "127.0.0.1", API_PORT: "0" } });
  });
  afterAll(async () => {
    await infra?.stop();
  });

  /** What the API wrote before it died: the batch and its Idempotency-Key, no queue job. */
  async function halfSubmit(ledger: Ledger, key: string) {
    const body = {
      model: "m".repeat(64),
      items: [{ name: "a.mp4", inputs: { video: "1".repeat(64), audio: "2".repeat(64) } }],
    };
    const jobKey = sha256Hex(`${key}-job`);
    const batch = {
      id: crypto.randomUUID(),
      tenant: TENANT,
      model: body.model,
      adapter: "wav2lip" as const,
      params: {},
      createdAt: new Date().toISOString(),
    };
    const item = { name: "a.mp4", jobKey, inputs: body.items[0]?.inputs as never, params: {} };
    const outcome = await ledger.batches.create(batch, [item], {
      key,
      fingerprint: sha256Hex(canonicalJson(body)),
    });
    expect(outcome.kind).toBe("created");
    return { body, jobKey, batchId: batch.id };
  }

  it("failure 6: the replay queues the lost work before it answers, and a timer heals a quiet system", async () => {
    const api = await startApi({ ...infra.config, OUTBOX_GRACE_SECONDS: 1 });
    const redis = createRedis(infra.config);
    const ledger = new Ledger(redis);
    const queue = createInferenceQueue(redis, infra.config);
    try {
      const replayed = await halfSubmit(ledger, "replay-key");
      const res = await fetch(`${api.url}/v1/batches`, {
        method: "POST",
        headers: {
          authorization: "Bearer key-acme",
          "content-type": "application/json",
          "idempotency-key": "replay-key",
        },
        body: JSON.stringify(replayed.body),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(replayed.batchId);
      // Healed before the answer: the job is in the queue now.
      expect(await queue.getJob(replayed.jobKey)).toBeDefined();

      // No request at all: the API's timer queues entries older than OUTBOX_GRACE_SECONDS.
      const quiet = await halfSubmit(ledger, "quiet-key");
      expect(await queue.getJob(quiet.jobKey)).toBeUndefined();
      await until(
        "the timer queued the lost job",
        async () => (await queue.getJob(quiet.jobKey)) !== undefined,
        10_000,
      );
      expect(await redis.zcard("mediaq:outbox")).toBe(0);
    } finally {
      await queue.close();
      await api.close();
      redis.disconnect();
    }
  });
});
