import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type EmbeddedRedis, startRedis } from "@mediaq/cli/embedded";
import { createInferenceQueue, redisKeys, toBatchItem } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../../packages/api/test/helpers.ts";
import { sleep, until } from "./helpers.ts";

/**
 * The API while its Redis is away (a restart, or a failover: docs/architecture.md#redis-failover):
 * requests fail fast with a retryable 503, /readyz says so, and once Redis is back the API
 * queues the outbox's entries at once, not at the next submit.
 */
describe("the API while Redis is away", () => {
  let dir: string;
  let redis: EmbeddedRedis;
  let t: TestApi;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-api-redis-"));
    redis = await startRedis({ dataDir: path.join(dir, "redis") });
    t = await startTestApi({}, { REDIS_URL: redis.url });
    t.redis.on("error", () => undefined);
  });
  afterAll(async () => {
    await t?.stop().catch(() => undefined);
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers 503 at once, says so on /readyz, and repairs the outbox as soon as Redis is back", async () => {
    expect((await t.anon("/readyz")).status).toBe(200);
    // A submit whose writer died between the ledger and the queue: outbox entries, no jobs.
    const item = toBatchItem(
      { scope: "acme", modelSha256: "a".repeat(64), adapter: "wav2lip" },
      { name: "x.mp4", inputs: { video: "b".repeat(64), audio: "c".repeat(64) }, params: { box: [0, 0, 8, 8] } },
    );
    const batchId = randomUUID();
    const batch = {
      id: batchId,
      tenant: "acme",
      model: "a".repeat(64),
      adapter: "wav2lip" as const,
      params: {},
      createdAt: new Date().toISOString(),
    };
    expect((await t.ledger.batches.create(batch, [item])).kind).toBe("created");
    expect(await t.redis.zcard(redisKeys.outbox)).toBe(1);

    await redis.kill();
    const startedAt = Date.now();
    const res = await t.acme(`/v1/batches/${batchId}`);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(((await res.json()) as { type: string }).type).toBe("urn:mediaq:problem:redis-unavailable");
    const readyz = await t.anon("/readyz");
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toMatch(/failing over or restarting/);

    await sleep(300);
    redis = await startRedis({ dataDir: redis.dataDir, port: redis.port });
    await until("the API to be ready again", async () => (await t.anon("/readyz")).status === 200, 20_000);
    // No submit came: the reconnect alone queued the entry's job and cleared the outbox.
    const queue = createInferenceQueue(t.redis, t.infra.config);
    try {
      await until("the outbox to be repaired", async () => (await queue.getJob(item.jobKey)) !== undefined, 10_000);
      expect(await t.redis.zcard(redisKeys.outbox)).toBe(0);
    } finally {
      await queue.close();
    }
    expect((await t.acme(`/v1/batches/${batchId}`)).status).toBe(200);
  });
});
