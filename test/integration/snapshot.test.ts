import {
  type BatchItem,
  computeJobKey,
  countLedgerKeys,
  createInferenceQueue,
  createRedis,
  createS3,
  createSnapshot,
  enqueueInference,
  getObjectStream,
  getSnapshotSchedule,
  ensureBucket,
  Ledger,
  newSnapshotId,
  listSnapshots,
  normalizeParams,
  objectKeys,
  OUTPUT_FILE,
  PackageStore,
  PIPELINE_VERSION,
  putStream,
  redisKeys,
  reindexOutputs,
  restoreSnapshot,
  scheduleSnapshots,
  type SnapshotDeps,
  sha256Hex,
  startSnapshotWorker,
} from "@mediaq/shared";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../harness/infra.ts";

const TENANT = "acme";
const MODEL = sha256Hex("model-bytes");

function item(i: number): BatchItem {
  const inputs = { video: sha256Hex(`video-${i}`), audio: sha256Hex(`audio-${i}`) };
  const params = normalizeParams("wav2lip", { box: [0, 0, 64 + i, 64] });
  const jobKey = computeJobKey({ scope: TENANT, modelSha256: MODEL, adapter: "wav2lip", inputs, params });
  return { name: `clip-${i}.mp4`, jobKey, inputs, params };
}

type S3Client = ReturnType<typeof createS3>;
type Redis = ReturnType<typeof createRedis>;

async function objectBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await getObjectStream(s3, bucket, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Everything a user of the ledger can read back about one batch. */
async function readBack(ledger: Ledger, batchId: string, jobKeys: string[]) {
  return {
    batch: await ledger.batches.get(batchId),
    total: await ledger.batches.total(batchId),
    counts: await ledger.batches.counts(batchId),
    views: await ledger.batches.itemViews(batchId, 0, 100),
    names: await ledger.batches.takenNames(batchId, ["clip-0.mp4", "clip-4.mp4", "nope"]),
    models: await ledger.assets.listModels(TENANT),
    batches: await ledger.batches.list(TENANT),
    blobs: await ledger.assets.hasBlobs(TENANT, [sha256Hex("video-0"), sha256Hex("audio-1"), sha256Hex("unknown")]),
    results: await ledger.jobs.getResults(jobKeys),
    waiters: await Promise.all(jobKeys.map((k) => ledger.events.waitingBatches(k))),
  };
}

describe("ledger snapshot, restore and reindex", () => {
  let infra: TestInfra;
  let redis: Redis;
  let s3: S3Client;
  let ledger: Ledger;
  let deps: SnapshotDeps;
  let bucket: string;
  const items = [0, 1, 2, 3, 4].map(item);
  const jobKeys = items.map((i) => i.jobKey);

  /** A batch of five: two succeeded, one failed, one running, one pending; BullMQ holds jobs too. */
  async function buildLedger(): Promise<string> {
    await ledger.assets.setModel(TENANT, { tag: "wav2lip@prod", sha256: MODEL, adapter: "wav2lip" });
    for (const it of items) {
      for (const blob of Object.values(it.inputs)) await ledger.assets.grantBlob(TENANT, blob);
    }
    const batchId = "b-snap-1";
    const created = await ledger.batches.create(
      {
        id: batchId,
        tenant: TENANT,
        model: MODEL,
        modelTag: "wav2lip@prod",
        adapter: "wav2lip",
        params: {},
        createdAt: "2026-11-26T03:00:00.000Z",
      },
      items,
      { key: "idem-1", fingerprint: "f1" },
    );
    expect(created.kind === "created" && created.states.every((s) => s.enqueue)).toBe(true);
    const queue = createInferenceQueue(redis, infra.config);
    await enqueueInference(
      queue,
      items.map((it) => ({
        jobKey: it.jobKey,
        tenant: TENANT,
        model: { sha256: MODEL, adapter: "wav2lip" },
        inputs: it.inputs,
        params: it.params,
      })),
      redis,
    );
    await queue.close();
    for (const i of [0, 1]) {
      await ledger.jobs.transition(jobKeys[i] as string, "running");
      await ledger.jobs.recordResult({
        jobKey: jobKeys[i] as string,
        key: objectKeys.output(jobKeys[i] as string, OUTPUT_FILE),
        sha256: sha256Hex(`out-${i}`),
        size: 1000 + i,
        model: MODEL,
        adapter: "wav2lip",
        inputs: items[i]?.inputs as BatchItem["inputs"],
        params: items[i]?.params as Record<string, unknown>,
        completedAt: "2026-11-26T03:10:00.000Z",
      });
    }
    await ledger.jobs.transition(jobKeys[2] as string, "running");
    await ledger.jobs.transition(jobKeys[2] as string, "failed", "face box outside the frame");
    await ledger.jobs.transition(jobKeys[3] as string, "running");
    // Ephemeral things a snapshot leaves out, and a key with a TTL it keeps.
    await new PackageStore(redis).request({
      id: "pkg1",
      tenant: TENANT,
      batchId,
      partSize: 1,
      createdAt: "",
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      state: "queued",
      parts: [],
    });
    await redis
      .multi()
      .hset(redisKeys.idempotency(TENANT, "short-lived"), { batch: batchId, fingerprint: "f2" })
      .pexpire(redisKeys.idempotency(TENANT, "short-lived"), 3_600_000)
      .exec();
    return batchId;
  }

  beforeAll(async () => {
    infra = await startInfra();
    redis = createRedis(infra.config);
    s3 = createS3(infra.config);
    bucket = infra.config.S3_BUCKET;
    await ensureBucket(s3, bucket);
    ledger = new Ledger(redis);
    deps = { redis, s3, config: infra.config };
  });
  afterAll(async () => {
    redis?.disconnect();
    await infra?.stop();
  });

  it("restores a flushed Redis to the same ledger and re-queues unfinished items", async () => {
    await redis.flushall();
    const batchId = await buildLedger();
    const before = await readBack(ledger, batchId, jobKeys);
    expect(before.counts).toEqual({ pending: 1, running: 1, succeeded: 2, failed: 1 });

    const made = await createSnapshot(deps, { retention: 100 });
    expect(made.keys).toBeGreaterThan(10);
    const stored = await objectBytes(s3, bucket, objectKeys.snapshot(made.id));
    const lines = gunzipSync(stored)
      .toString("utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const keys = lines.slice(1, -1).map((l) => l.k as string);
    expect(keys).toContain(redisKeys.result(jobKeys[0] as string));
    expect(keys).toContain(redisKeys.idempotency(TENANT, "idem-1"));
    expect(keys.some((k) => k.startsWith("mediaq:inference:"))).toBe(false); // BullMQ's own
    expect(keys.some((k) => k.startsWith(redisKeys.package("")))).toBe(false);
    expect(keys.some((k) => k.endsWith(":events"))).toBe(false);
    expect(lines.at(-1)).toEqual({ end: true, keys: made.keys, sha256: made.sha256 });

    await redis.flushall();
    const report = await restoreSnapshot(deps, { id: "latest" });
    expect(report).toMatchObject({
      id: made.id,
      keys: made.keys,
      batches: 1,
      requeued: 2,
      wasRunning: 1,
      completed: 0,
      orphaned: 0,
      countsRepaired: 0,
    });

    const after = await readBack(ledger, batchId, jobKeys);
    // Identical, except that the item running at snapshot time is pending again.
    expect(after.views[3]).toEqual({ ...before.views[3], state: "pending" });
    expect({ ...after, views: after.views.filter((_, i) => i !== 3) }).toEqual({
      ...before,
      counts: { pending: 2, running: 0, succeeded: 2, failed: 1 },
      views: before.views.filter((_, i) => i !== 3),
    });
    expect(after.views[2]?.error).toBe("face box outside the frame");
    expect(await ledger.batches.idempotent(TENANT, "idem-1")).toEqual({ batchId, fingerprint: "f1" });
    const ttl = await redis.pttl(redisKeys.idempotency(TENANT, "short-lived"));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(await redis.exists(redisKeys.package("pkg1"))).toBe(0);

    const queue = createInferenceQueue(redis, infra.config);
    const queued = await Promise.all(jobKeys.map((k) => queue.getJob(k)));
    await queue.close();
    expect(queued.map((j) => j !== undefined)).toEqual([false, false, false, true, true]);
    expect(queued[3]?.data).toEqual({
      jobKey: jobKeys[3],
      tenant: TENANT,
      // A batch recorded without a channel order re-queues with its adapter's default.
      model: { sha256: MODEL, adapter: "wav2lip", channels: "bgr" },
      inputs: items[3]?.inputs,
      params: items[3]?.params,
    });

    // Re-submitting the batch's items recomputes nothing finished.
    const again = await ledger.batches.append(
      batchId,
      items.slice(0, 2).map((it, i) => ({ ...it, name: `again-${i}` })),
    );
    expect(again.kind === "appended" && again.states).toEqual([
      { state: "succeeded", enqueue: false },
      { state: "succeeded", enqueue: false },
    ]);
  });

  it("refuses to restore over a ledger that is not empty, unless forced", async () => {
    const existing = await countLedgerKeys(redis);
    expect(existing).toBeGreaterThan(0);
    await expect(restoreSnapshot(deps, {})).rejects.toThrow(
      new RegExp(`already holds ${existing} mediaq ledger keys.*--force`),
    );
    const forced = await restoreSnapshot(deps, { force: true });
    expect(forced.keys).toBeGreaterThan(0);
  });

  it("refuses a corrupt snapshot with a clear error and writes nothing", async () => {
    await redis.flushall();
    await buildLedger();
    const made = await createSnapshot(deps, { retention: 100 });
    const key = objectKeys.snapshot(made.id);
    const good = await objectBytes(s3, bucket, key);
    const bytes = Buffer.from(good);
    for (let i = 40; i < 48; i++) bytes[i] = (bytes[i] as number) ^ 0x5a;
    await putStream(s3, { bucket, key, body: bytes, metadata: { sha256: made.sha256 } });

    await redis.flushall();
    await expect(restoreSnapshot(deps, { id: made.id })).rejects.toThrow(
      new RegExp(`snapshot ${made.id} is corrupt.*nothing was restored`),
    );
    expect(await redis.dbsize()).toBe(0);

    // Valid gzip around a changed payload: caught by the SHA-256, not by gzip's CRC.
    const tamperedId = newSnapshotId();
    const text = gunzipSync(good).toString("utf8");
    expect(text).toContain("face box outside the frame");
    await putStream(s3, {
      bucket,
      key: objectKeys.snapshot(tamperedId),
      body: gzipSync(text.replace("outside", "inside")),
    });
    await expect(restoreSnapshot(deps, { id: tamperedId })).rejects.toThrow(
      /is corrupt.*checksum mismatch.*nothing was restored/,
    );
    expect(await redis.dbsize()).toBe(0);
    await expect(restoreSnapshot(deps, { id: "not-an-id" })).rejects.toThrow(/not a snapshot id/);
  });

  it("keeps only the newest N snapshots", async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push((await createSnapshot(deps, { retention: 2 })).id);
    const left = (await listSnapshots(s3, bucket)).map((s) => s.id);
    expect(left).toEqual(made.slice(-2));
  });

  it("rebuilds the result index from output metadata so re-submitting recomputes nothing", async () => {
    await redis.flushall();
    const wav = { kind: "audio", file: "output.wav", extension: ".wav", contentType: "audio/wav" };
    for (const i of [0, 1, 2]) {
      const it = items[i] as BatchItem;
      const body = Buffer.from(`fake mp4 ${i}`);
      await putStream(s3, {
        bucket,
        key: objectKeys.output(it.jobKey, OUTPUT_FILE),
        body,
        contentType: "video/mp4",
        metadata: {
          jobkey: it.jobKey,
          sha256: sha256Hex(body),
          // Items 0 and 1 as workers wrote them before outputs carried `inputs` and `output`
          // (reindex reads both); item 2 as they write them now.
          ...it.inputs,
          ...(i === 2 ? { inputs: JSON.stringify(it.inputs), output: JSON.stringify(wav) } : {}),
          model: MODEL,
          adapter: "wav2lip",
          params: JSON.stringify(it.params),
          pipeline: PIPELINE_VERSION,
        },
      });
    }
    await putStream(s3, { bucket, key: objectKeys.output(jobKeys[4] as string, "partial.tmp"), body: "x" });

    const report = await reindexOutputs(deps, { concurrency: 2 });
    expect(report).toMatchObject({ objects: 4, indexed: 3, known: 0 });
    expect(report.skipped).toEqual([
      { key: objectKeys.output(jobKeys[4] as string, "partial.tmp"), reason: "no jobkey metadata" },
    ]);
    expect(await ledger.jobs.getResult(jobKeys[1] as string)).toMatchObject({
      sha256: sha256Hex("fake mp4 1"),
      size: "fake mp4 1".length,
      inputs: items[1]?.inputs,
      params: items[1]?.params,
      model: MODEL,
    });
    expect((await ledger.jobs.getResult(jobKeys[1] as string))?.output).toBeUndefined();
    expect(await ledger.jobs.getResult(jobKeys[2] as string)).toMatchObject({ inputs: items[2]?.inputs, output: wav });
    expect((await reindexOutputs(deps)).known).toBe(3);

    const made = await ledger.batches.create(
      {
        id: "b-again",
        tenant: TENANT,
        model: MODEL,
        adapter: "wav2lip",
        params: {},
        createdAt: new Date().toISOString(),
      },
      items,
    );
    expect(made.kind === "created" && made.states).toEqual([
      { state: "succeeded", enqueue: false },
      { state: "succeeded", enqueue: false },
      { state: "succeeded", enqueue: false },
      { state: "pending", enqueue: true },
      { state: "pending", enqueue: true },
    ]);
    expect(await ledger.batches.counts("b-again")).toEqual({ pending: 2, running: 0, succeeded: 3, failed: 0 });
  });

  it("takes snapshots on a schedule and stops when disabled", async () => {
    const before = (await listSnapshots(s3, bucket)).length;
    const connection = createRedis(infra.config);
    const settings = { SNAPSHOT_RETENTION: 50, SNAPSHOT_EVERY_SECONDS: 1 };
    const worker = startSnapshotWorker(connection, deps, settings);
    const done = new Promise<unknown>((resolve, reject) => {
      worker.once("completed", (_job, result) => resolve(result));
      worker.once("failed", (_job, err) => reject(err));
    });
    expect(await scheduleSnapshots(connection, infra.config, settings)).toEqual({ enabled: true });
    expect(await getSnapshotSchedule(connection, infra.config)).toMatchObject({ everyMs: 1000 });
    const result = (await done) as { id: string };
    await worker.close();
    const ids = (await listSnapshots(s3, bucket)).map((s) => s.id);
    expect(ids.length).toBeGreaterThan(before);
    expect(ids).toContain(result.id);

    expect(await scheduleSnapshots(connection, infra.config, { ...settings, SNAPSHOT_EVERY_SECONDS: 0 })).toEqual({
      enabled: false,
    });
    expect(await getSnapshotSchedule(connection, infra.config)).toBeUndefined();
    connection.disconnect();
  });
});
