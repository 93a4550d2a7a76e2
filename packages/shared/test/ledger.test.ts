import type { S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import {
  createInferenceQueue,
  createRedis,
  createS3,
  ensureBucket,
  getObjectStream,
  headObject,
  Ledger,
  objectKeys,
  putStream,
  recordOutput,
  redisKeys,
  repairOutbox,
  sha256Hex,
} from "../src/index.ts";
import { loadScript } from "../src/ledger/script-loader.ts";
import { batchRecord, hex, item, result } from "./ledger-fixtures.ts";

// Regression tests for the ledger bugs of issue 12, each driven through the interleaving or
// crash point that broke it, on a real redis-server (and S3 server for outputs).

describe("ledger", () => {
  let infra: TestInfra;
  let redis: Redis;
  let s3: S3Client;
  let ledger: Ledger;
  let bucket: string;
  let n = 0;
  const newId = () => `b${++n}-${hex().slice(0, 8)}`;

  beforeAll(async () => {
    infra = await startInfra();
    redis = createRedis(infra.config);
    s3 = createS3(infra.config);
    bucket = infra.config.S3_BUCKET;
    await ensureBucket(s3, bucket);
    ledger = new Ledger(redis, { batchRetentionSeconds: 3600, idempotencyTtlSeconds: 600 });
  });
  afterAll(async () => {
    redis?.disconnect();
    s3?.destroy();
    await infra?.stop();
  });

  async function recount(batchId: string) {
    const [stored, counted] = await Promise.all([ledger.batches.counts(batchId), ledger.batches.recount(batchId)]);
    return { stored, counted };
  }

  it("builds keys inside scripts exactly as the key module does", async () => {
    const lua = `${loadScript("includes/keys")}
      local j, b = ARGV[2], ARGV[3]
      return {jobKeyOf(j), waitersKeyOf(j), resultKeyOf(j), batchKeyOf(b), itemsKeyOf(b), namesKeyOf(b),
        countsKeyOf(b), cancelledKeyOf(b), eventsKeyOf(b), OUTBOX, stateEventsKeyOf(b), WEBHOOKS_DUE,
        batchWebhooksKeyOf(b), webhookReaderKeyOf(b), tenantWebhooksKeyOf(ARGV[4]), webhookKeyOf(ARGV[5]), segmentsKeyOf(j)}`;
    const [j, b] = [hex(), "b-1"];
    const endpoint = `wh_${"a".repeat(24)}`;
    expect(await redis.eval(lua, 0, redisKeys.root, j, b, "acme", endpoint)).toEqual([
      redisKeys.job(j),
      redisKeys.waiters(j),
      redisKeys.result(j),
      redisKeys.batch(b),
      redisKeys.batchItems(b),
      redisKeys.batchNames(b),
      redisKeys.batchCounts(b),
      redisKeys.batchCancelled(b),
      redisKeys.batchEvents(b),
      redisKeys.outbox,
      redisKeys.batchStateEvents(b),
      redisKeys.webhooksDue,
      redisKeys.batchWebhooks(b),
      redisKeys.webhookReader(b),
      redisKeys.tenantWebhooks("acme"),
      redisKeys.webhookEndpoint(endpoint),
      redisKeys.segments(j),
    ]);
  });

  describe("cancel and a worker's start", () => {
    it("keeps counters equal to a recount whichever runs first, also when fired together", async () => {
      for (let round = 0; round < 40; round++) {
        const id = newId();
        const keys = [hex(), hex(), hex()];
        await ledger.batches.create(
          batchRecord(id),
          keys.map((k, i) => item(`i${i}`, k)),
        );
        // Cancel and the worker's start of every job key at once.
        const [cancel, ...starts] = await Promise.all([
          ledger.batches.cancel(id),
          ...keys.map((k) => ledger.jobs.start(k)),
        ]);
        const { stored, counted } = await recount(id);
        expect(stored).toEqual(counted);
        for (const v of Object.values(stored)) expect(v).toBeGreaterThanOrEqual(0);
        const started = starts.filter((s) => s === "started").length;
        expect(cancel.cancelled + started).toBe(3);
        expect(stored.running).toBe(started);
        // A started job finishes; the batch is then done.
        for (const [i, k] of keys.entries())
          if (starts[i] === "started") await ledger.jobs.transition(k, "failed", "boom");
        expect((await ledger.batches.status(id)).done).toBe(true);
      }
    });

    it("starts a stage key for its parent's batches, and for batches waiting on the stage itself", async () => {
      const [parent, stage] = [hex(), hex()];
      // No batch waits on the stage nor on its parent: an orphan.
      expect(await ledger.jobs.startStage(stage, parent)).toBe("orphan");
      const id = newId();
      await ledger.batches.create(batchRecord(id), [item("script", parent)]);
      // The parent's batch waits: the stage runs, and no batch counts it.
      expect(await ledger.jobs.startStage(stage, parent)).toBe("started");
      expect((await ledger.jobs.state(stage)).state).toBeUndefined();
      expect(await recount(id)).toMatchObject({ stored: { pending: 1, running: 0 } });
      // A plain speech item of the same key: its batch sees the stage running.
      const plain = newId();
      await ledger.batches.create(batchRecord(plain), [item("speech", stage)]);
      expect(await ledger.jobs.startStage(stage, parent)).toBe("started");
      expect(await recount(plain)).toMatchObject({ stored: { pending: 0, running: 1 } });
      await ledger.jobs.recordResult(result(stage, `outputs/${stage}/a/output.wav`, hex(), 10));
      expect(await ledger.jobs.startStage(stage, parent)).toBe("done");
      expect(await recount(plain)).toMatchObject({ stored: { running: 0, succeeded: 1 } });
      // Cancelling the parent's batch leaves a stage nobody waits for, once the plain one is done.
      const [parent2, stage2] = [hex(), hex()];
      const third = newId();
      await ledger.batches.create(batchRecord(third), [item("script", parent2)]);
      await ledger.batches.cancel(third);
      expect(await ledger.jobs.startStage(stage2, parent2)).toBe("orphan");
    });

    it("tells a worker that starts a cancelled job that no batch waits on it", async () => {
      const id = newId();
      const k = hex();
      await ledger.batches.create(batchRecord(id), [item("only", k)]);
      expect(await ledger.batches.cancel(id)).toEqual({ cancelled: 1, orphaned: [k] });
      expect(await ledger.jobs.start(k)).toBe("orphan");
      // Moves by the stale job are ignored: only an attach brings the job key back.
      expect(await ledger.jobs.transition(k, "failed", "late")).toBe(false);
      const again = newId();
      const made = await ledger.batches.create(batchRecord(again), [item("only", k)]);
      expect(made.kind === "created" && made.states[0]).toEqual({ state: "pending", enqueue: true });
      expect(await ledger.jobs.start(k)).toBe("started");
      expect(await recount(id)).toEqual({
        stored: { pending: 0, running: 0, succeeded: 0, failed: 0 },
        counted: { pending: 0, running: 0, succeeded: 0, failed: 0 },
      });
      expect((await ledger.batches.itemViews(id, 0, 1))[0]?.state).toBe("cancelled");
    });

    it("drops a long item's pieces when its segment fails for good after a cancel left nobody waiting", async () => {
      const id = newId();
      const k = hex();
      await ledger.batches.create(batchRecord(id), [item("long", k)]);
      expect(await ledger.jobs.start(k)).toBe("started");
      await ledger.segments.markSegmented(k);
      // A held segment runs and records its piece; then the cancel withdraws the item (no state left).
      await ledger.segments.countRun(k, "0-10");
      await ledger.segments.record(k, "0-10", { start: 0, count: 10, key: "k", sha256: hex(), size: 1 });
      expect(await ledger.batches.cancel(id)).toEqual({ cancelled: 1, orphaned: [k] });
      // The record expires with the batch even if the item's job never runs to drop its pieces.
      expect(await redis.ttl(redisKeys.segments(k))).toBeGreaterThan(0);
      // The transition is a no-op (nobody waits), yet the pieces must go: the item's job never runs.
      expect(await ledger.jobs.failForSegment(k, "died", { from: "running" })).toBe(true);
      await ledger.segments.drop(k);
      expect((await ledger.segments.pieces(k)).size).toBe(0);
      expect(await redis.ttl(redisKeys.segments(k))).toBeGreaterThan(0);

      // Live again (a submit attached it, a retry made it pending): the pieces stay.
      const again = newId();
      await ledger.batches.create(batchRecord(again), [item("long", k)]);
      expect(await redis.ttl(redisKeys.segments(k))).toBe(-1);
      await ledger.segments.record(k, "0-10", { start: 0, count: 10, key: "k", sha256: hex(), size: 1 });
      expect(await ledger.jobs.failForSegment(k, "died", { from: "running" })).toBe(false);
      // Running: it fails now, and its pieces go.
      expect(await ledger.jobs.start(k)).toBe("started");
      expect(await ledger.jobs.failForSegment(k, "died", { from: "running" })).toBe(true);
      expect((await ledger.jobs.state(k)).state).toBe("failed");
    });
  });

  describe("submit", () => {
    it("writes the batch, its items and counters in one step: never an empty batch that reads as done", async () => {
      const id = newId();
      const pending = ledger.batches.create(
        batchRecord(id),
        Array.from({ length: 2000 }, (_, i) => item(`i${i}`, hex())),
      );
      // Read while the create is in flight: either nothing or the whole batch.
      const seen = await ledger.batches.status(id);
      await pending;
      expect(seen.total === 0 || seen.total === 2000).toBe(true);
      if (seen.total === 0) expect(await ledger.batches.get(id)).toBeDefined();
      const after = await ledger.batches.status(id);
      expect(after).toMatchObject({ total: 2000, done: false, counts: { pending: 2000 } });
    });

    it("binds an Idempotency-Key to the request: same body replays, another body is a mismatch, the key expires", async () => {
      const key = `order-${hex().slice(0, 6)}`;
      const items = [item("a", hex())];
      const first = await ledger.batches.create(batchRecord(newId()), items, { key, fingerprint: "f1" });
      expect(first.kind).toBe("created");
      const replay = await ledger.batches.create(batchRecord(newId()), items, { key, fingerprint: "f1" });
      expect(replay).toEqual({ kind: "replay", id: first.id });
      const other = await ledger.batches.create(batchRecord(newId()), items, { key, fingerprint: "f2" });
      expect(other).toEqual({ kind: "mismatch", id: first.id });
      const ttl = await redis.ttl(redisKeys.idempotency("acme", key));
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    });

    it("heals a key whose batch is gone instead of answering 404 for ever", async () => {
      const key = `dangling-${hex().slice(0, 6)}`;
      await redis.hset(redisKeys.idempotency("acme", key), { batch: "gone", fingerprint: "f1" });
      expect(await ledger.batches.idempotent("acme", key)).toBeUndefined();
      const made = await ledger.batches.create(batchRecord(newId()), [item("a", hex())], { key, fingerprint: "f1" });
      expect(made.kind).toBe("created");
      expect(await ledger.batches.idempotent("acme", key)).toEqual({ batchId: made.id, fingerprint: "f1" });
    });

    it("queues work a writer left in the outbox when it died before the queue write", async () => {
      const queue = createInferenceQueue(redis, infra.config);
      try {
        // Earlier tests wrote batches without queueing them; start from an empty outbox.
        await redis.del(redisKeys.outbox);
        const id = newId();
        const k = hex();
        const made = await ledger.batches.create(batchRecord(id), [item("a", k)]);
        // The writer dies here: the ledger says pending, BullMQ has no job.
        expect(made.kind === "created" && made.outbox).toEqual([`${id}:0`]);
        expect(await queue.getJob(k)).toBeUndefined();
        expect(await repairOutbox(ledger, queue, { olderThanMs: Date.now() })).toBe(1);
        expect((await queue.getJob(k))?.data).toMatchObject({ jobKey: k, tenant: "acme" });
        expect(await redis.zscore(redisKeys.outbox, `${id}:0`)).toBeNull();
      } finally {
        await queue.close();
      }
    });

    it("refuses names the batch has, writing nothing", async () => {
      const id = newId();
      await ledger.batches.create(batchRecord(id), [item("a", hex())]);
      expect(await ledger.batches.append(id, [item("b", hex()), item("a", hex())])).toEqual({
        kind: "taken",
        names: ["a"],
      });
      expect(await ledger.batches.total(id)).toBe(1);
    });
  });

  describe("packages", () => {
    const record = (id: string, expiresInMs = 60_000) => ({
      id,
      tenant: "acme",
      batchId: "b",
      partSize: 1,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
      state: "queued" as const,
      parts: [],
    });

    it("gets a new build when asked again after its record expired, or after it failed", async () => {
      const id = `p-${hex().slice(0, 8)}`;
      const first = await ledger.packages.request(record(id));
      expect(first.state).toBe("queued");
      expect(await ledger.packages.request(record(id))).toEqual(first);
      await ledger.packages.update(id, { state: "failed", error: "part 2" });
      const retried = await ledger.packages.request(record(id));
      expect(retried.state).toBe("queued");
      expect(retried.buildId).not.toBe(first.buildId);
      expect((await ledger.packages.get(id))?.error).toBeUndefined();
      await ledger.packages.update(id, { state: "ready" });
      await redis.del(redisKeys.package(id)); // expired
      const anew = await ledger.packages.request(record(id));
      expect(anew.state).toBe("queued");
      expect(anew.buildId).not.toBe(retried.buildId);
    });

    it("loses no field under concurrent updates", async () => {
      const id = `p-${hex().slice(0, 8)}`;
      await ledger.packages.request(record(id));
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0
            ? ledger.packages.update(id, { bytesWritten: i })
            : ledger.packages.update(id, { state: "building", totalBytes: 1000 }),
        ),
      );
      await ledger.packages.update(id, { manifestKey: "m.json" });
      const got = await ledger.packages.get(id);
      expect(got).toMatchObject({ state: "building", totalBytes: 1000, manifestKey: "m.json" });
      expect(typeof got?.bytesWritten).toBe("number");
      expect(await redis.pttl(redisKeys.package(id))).toBeGreaterThan(0);
      expect(await ledger.packages.update("nope", { state: "ready" })).toBeUndefined();
      expect(await redis.exists(redisKeys.package("nope"))).toBe(0);
    });
  });

  describe("retention", () => {
    it("expires a finished batch, its events and its job states after the retention period, not before", async () => {
      const id = newId();
      const [k0, k1] = [hex(), hex()];
      await ledger.batches.create(batchRecord(id), [item("a", k0), item("b", k1)]);
      const ttls = async () =>
        Promise.all(
          [
            redisKeys.batch(id),
            redisKeys.batchItems(id),
            redisKeys.batchNames(id),
            redisKeys.batchCounts(id),
            redisKeys.batchEvents(id),
            redisKeys.job(k0),
          ].map((k) => redis.ttl(k)),
        );
      await ledger.jobs.start(k0);
      await ledger.jobs.transition(k0, "failed", "x");
      expect((await ttls()).slice(0, 4)).toEqual([-1, -1, -1, -1]);
      await ledger.jobs.start(k1);
      await ledger.jobs.recordResult(result(k1, "outputs/x", "0".repeat(64), 1));
      for (const ttl of await ttls()) {
        expect(ttl).toBeGreaterThan(3500);
        expect(ttl).toBeLessThanOrEqual(3600);
      }
      expect((await ledger.batches.status(id)).finishedAt).toBeDefined();
      // Retrying makes it live again: nothing expires while work is pending.
      await ledger.batches.retry(id);
      expect((await ttls()).slice(0, 5)).toEqual([-1, -1, -1, -1, -1]);
      expect(await redis.ttl(redisKeys.job(k0))).toBe(-1);
      // The result, the record of done work, never expires.
      expect(await redis.ttl(redisKeys.result(k1))).toBe(-1);
    });

    it("caps event streams", async () => {
      const small = new Ledger(redis, { eventsMaxLen: 100 });
      const id = newId();
      await small.batches.create(batchRecord(id), [item("a", hex())]);
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          small.events.publish([id], { type: "progress", jobKey: "k", stage: "s", done: i, total: 500 }),
        ),
      );
      expect(await redis.xlen(redisKeys.batchEvents(id))).toBeLessThan(300);
    });
  });

  describe("results", () => {
    it("keep the first attempt's result; the loser's object is swept, so the recorded sha256 matches its object", async () => {
      const k = hex();
      const id = newId();
      await ledger.batches.create(batchRecord(id), [item("a", k)]);
      await ledger.jobs.start(k);
      // Two runs of the same job key (the first lost its lock): each uploads its own object.
      const attempts = ["attempt-a", "attempt-b"].map((a) => ({
        key: objectKeys.attemptOutput(k, a, "output.mp4"),
        bytes: Buffer.from(`bytes of ${a} ${hex()}`),
      }));
      for (const a of attempts) await putStream(s3, { bucket, key: a.key, body: a.bytes });
      const [a, b] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
      const won = await recordOutput(ledger, s3, bucket, result(k, a.key, sha256Hex(a.bytes), a.bytes.length));
      const lost = await recordOutput(ledger, s3, bucket, result(k, b.key, sha256Hex(b.bytes), b.bytes.length));
      expect(won).toEqual({ recorded: true, key: a.key });
      expect(lost).toEqual({ recorded: false, key: a.key });
      const recorded = await ledger.jobs.getResult(k);
      const chunks: Buffer[] = [];
      for await (const c of await getObjectStream(s3, bucket, recorded?.key as string)) chunks.push(c as Buffer);
      expect(sha256Hex(Buffer.concat(chunks))).toBe(recorded?.sha256);
      expect(await headObject(s3, bucket, b.key)).toBeUndefined();
      expect((await ledger.batches.status(id)).counts.succeeded).toBe(1);
    });
  });
});
