import { type ItemInput, QUEUES, redisKeys } from "@mediaq/shared";
import { UnrecoverableError, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpProblem } from "../problem.ts";
import { BatchService } from "./batch.service.ts";
import { WebhookService } from "./webhook.service.ts";
import { serviceDeps } from "./service-fixture.ts";

describe(BatchService.name, () => {
  let env: Awaited<ReturnType<typeof serviceDeps>>;
  let sut: BatchService;
  const model = "wav2lip@test";
  const items = async (n: number, prefix: string): Promise<ItemInput[]> =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => ({
        name: `${prefix}-${i}`,
        inputs: { video: await env.blob("acme"), audio: await env.blob("acme") },
      })),
    );

  beforeAll(async () => {
    env = await serviceDeps({ IDEMPOTENCY_TTL_SECONDS: "120" });
    sut = new BatchService(env.deps, new WebhookService(env.deps));
    await env.deps.ledger.assets.setModel("acme", { tag: model, sha256: "e".repeat(64), adapter: "wav2lip" });
  });
  afterAll(async () => env?.stop());

  describe("create", () => {
    it("should queue one job per new job key and answer 201", async () => {
      const body = { model, items: await items(3, "new") };
      const { status, answer } = await sut.create("acme", body);
      expect(status).toBe(201);
      expect(answer.counts).toEqual({ pending: 3, running: 0, succeeded: 0, failed: 0 });
      for (const i of answer.items) expect((await env.deps.inferenceQueue.getJob(i.jobKey))?.data.tenant).toBe("acme");
      expect(await env.redis.zcard(redisKeys.outbox)).toBe(0);
    });

    it("should replay the batch for the same Idempotency-Key and body, and refuse another body with 422", async () => {
      const body = { model, items: await items(2, "idem") };
      const first = await sut.create("acme", body, "order-1");
      const again = await sut.create("acme", body, "order-1");
      expect(again.status).toBe(200);
      expect(again.answer).toEqual(first.answer);
      const other = { ...body, items: body.items.slice(0, 1) };
      const mismatch = await sut.create("acme", other, "order-1").catch((e: unknown) => e);
      expect(mismatch).toBeInstanceOf(HttpProblem);
      expect(mismatch).toMatchObject({ status: 422, slug: "idempotency-key-reused" });
      expect((mismatch as HttpProblem).detail).toContain(first.answer.id);
      const ttl = await env.redis.ttl(redisKeys.idempotency("acme", "order-1"));
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    });

    it("should bind a key whose batch is gone to the new batch", async () => {
      await env.redis.hset(redisKeys.idempotency("acme", "order-2"), { batch: "gone", fingerprint: "x" });
      const made = await sut.create("acme", { model, items: await items(1, "heal") }, "order-2");
      expect(made.status).toBe(201);
      expect(await env.redis.hget(redisKeys.idempotency("acme", "order-2"), "batch")).toBe(made.answer.id);
    });

    it("should refuse inputs the tenant was not granted, naming them", async () => {
      const body = { model, items: await items(1, "known") };
      const foreign = await env.blob("globex");
      const missing = await sut
        .create("acme", { model, items: [{ name: "p", inputs: { video: foreign, audio: foreign } }] })
        .catch((e: unknown) => e);
      expect(missing).toMatchObject({ status: 400, slug: "unknown-blobs", extensions: { missing: [foreign] } });
      expect((await sut.create("acme", body)).status).toBe(201);
    });
  });

  describe("cancel", () => {
    it("should cancel pending items, remove their jobs and leave a running one alone", async () => {
      const { answer } = await sut.create("acme", { model, items: await items(2, "cancel") });
      const [running, pending] = answer.items.map((i) => i.jobKey) as [string, string];
      expect(await env.deps.ledger.jobs.start(running)).toBe("started");
      expect(await sut.cancel("acme", answer.id)).toEqual({ cancelled: 1 });
      expect(await env.deps.inferenceQueue.getJob(pending)).toBeUndefined();
      const status = await sut.summary(await sut.own("acme", answer.id));
      expect(status).toMatchObject({ cancelled: 1, done: false, counts: { pending: 0, running: 1 } });
      expect(await sut.cancel("acme", answer.id)).toEqual({ cancelled: 0 });
    });
  });

  describe("retry", () => {
    it("should queue failed items again, replacing BullMQ's failed job", async () => {
      const { answer } = await sut.create("acme", { model, items: await items(1, "retry") });
      const k = answer.items[0]?.jobKey as string;
      await env.deps.ledger.jobs.start(k);
      await env.deps.ledger.jobs.transition(k, "failed", "boom");
      // BullMQ holds the job as failed: a worker took it and it failed for good.
      const connection = env.redis.duplicate({ maxRetriesPerRequest: null });
      const worker = new Worker(QUEUES.inference, async () => Promise.reject(new UnrecoverableError("boom")), {
        connection,
        prefix: env.deps.config.QUEUE_PREFIX,
      });
      await expect.poll(async () => (await env.deps.inferenceQueue.getJob(k))?.getState()).toBe("failed");
      await worker.close();
      connection.disconnect();
      expect(await sut.retry("acme", answer.id)).toEqual({ retried: 1 });
      expect(await (await env.deps.inferenceQueue.getJob(k))?.getState()).toBe("waiting");
      expect((await sut.summary(await sut.own("acme", answer.id))).counts.pending).toBe(1);
    });
  });

  describe("own", () => {
    it("should answer 404 for another tenant's batch", async () => {
      const { answer } = await sut.create("acme", { model, items: await items(1, "own") });
      await expect(sut.own("globex", answer.id)).rejects.toMatchObject({ status: 404 });
    });
  });
});
