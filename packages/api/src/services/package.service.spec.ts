import { packageJobId, QUEUES, redisKeys, sha256Hex } from "@mediaq/shared";
import { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchService } from "./batch.service.ts";
import { WebhookService } from "./webhook.service.ts";
import { PackageService } from "./package.service.ts";
import { serviceDeps } from "./service-fixture.ts";

describe(PackageService.name, () => {
  let env: Awaited<ReturnType<typeof serviceDeps>>;
  let batches: BatchService;
  let sut: PackageService;

  beforeAll(async () => {
    env = await serviceDeps();
    batches = new BatchService(env.deps, new WebhookService(env.deps));
    sut = new PackageService(env.deps, batches);
    await env.deps.ledger.assets.setModel("acme", { tag: "m", sha256: "e".repeat(64), adapter: "wav2lip" });
  });
  afterAll(async () => env?.stop());

  /** A batch of one succeeded item. */
  async function finishedBatch(): Promise<string> {
    const inputs = { video: await env.blob("acme"), audio: await env.blob("acme") };
    const { answer } = await batches.create("acme", { model: "m", items: [{ name: "a", inputs }] });
    const k = answer.items[0]?.jobKey as string;
    await env.deps.ledger.jobs.start(k);
    await env.deps.ledger.jobs.recordResult({
      jobKey: k,
      key: `outputs/${k}/x/output.mp4`,
      sha256: sha256Hex(k),
      size: 1,
      model: "e".repeat(64),
      adapter: "wav2lip",
      inputs,
      params: {},
      completedAt: new Date().toISOString(),
    });
    return answer.id;
  }

  describe("request", () => {
    it("should return the same package while it lives", async () => {
      const batchId = await finishedBatch();
      const first = await sut.request("acme", batchId, {});
      expect(first.state).toBe("queued");
      expect(await sut.request("acme", batchId, {})).toEqual(first);
      const waiting = await env.deps.packageQueue.getJobs(["waiting"]);
      expect(waiting.filter((j) => j.data.packageId === first.id)).toHaveLength(1);
    });

    it("should build a package again when asked after its record expired, though BullMQ still holds the finished job", async () => {
      const batchId = await finishedBatch();
      const first = await sut.request("acme", batchId, {});
      const build = (await env.deps.ledger.packages.get(first.id))?.buildId as string;
      // A packager finishes the job; BullMQ keeps the completed job for an hour.
      const connection = env.redis.duplicate({ maxRetriesPerRequest: null });
      const worker = new Worker(QUEUES.package, async () => "done", {
        connection,
        prefix: env.deps.config.QUEUE_PREFIX,
      });
      const done = packageJobId(first.id, build);
      await expect.poll(async () => (await env.deps.packageQueue.getJob(done))?.getState()).toBe("completed");
      await worker.close();
      connection.disconnect();
      await env.deps.ledger.packages.update(first.id, { state: "ready" });
      await env.redis.del(redisKeys.package(first.id)); // the record expired

      const again = await sut.request("acme", batchId, {});
      expect(again).toEqual({ id: first.id, state: "queued" });
      const rebuilt = (await env.deps.ledger.packages.get(first.id))?.buildId as string;
      expect(rebuilt).not.toBe(build);
      expect(await (await env.deps.packageQueue.getJob(packageJobId(first.id, rebuilt)))?.getState()).toBe("waiting");
    });

    it("should refuse a batch with nothing to package", async () => {
      const inputs = { video: await env.blob("acme"), audio: await env.blob("acme") };
      const { answer } = await batches.create("acme", { model: "m", items: [{ name: "a", inputs }] });
      await expect(sut.request("acme", answer.id, {})).rejects.toMatchObject({ status: 409 });
    });
  });

  describe("get", () => {
    it("should hide another tenant's package", async () => {
      const batchId = await finishedBatch();
      const { id } = await sut.request("acme", batchId, {});
      expect((await sut.get("acme", id)).state).toBe("queued");
      await expect(sut.get("globex", id)).rejects.toMatchObject({ status: 404 });
    });
  });
});
