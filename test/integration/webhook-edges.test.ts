import { randomUUID } from "node:crypto";
import { type BatchRecord, createLogger, newWebhookEndpoint, redisKeys, type WebhookPayload } from "@mediaq/shared";
import { type RunningNotifier, startNotifier } from "@mediaq/notifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeItems, postJson, startTestApi, type TestApi, uploadModel } from "../../packages/api/test/helpers.ts";
import { startReceiver } from "../harness/webhook-receiver.ts";
import { stubResult } from "../harness/stub-result.ts";

/**
 * Issue 21, failures 4 and 5: the notifier must hear every watched batch however many there
 * are, and every item and batch event however far progress ran ahead of it. Real Redis,
 * the API, the notifier and a receiver on 127.0.0.1; the test plays the worker through the
 * ledger.
 */
describe("webhooks at the edges", () => {
  let t: TestApi;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let notifier: RunningNotifier | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApi(
      {},
      { WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: "true", WEBHOOK_CONCURRENCY: "8" },
    );
    await uploadModel(t.acme, "m");
    const res = await postJson(t.acme, "/v1/webhooks", { url: receiver.url("/all") });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await notifier?.close();
    await receiver?.close();
    await t?.stop();
  });

  const startTheNotifier = () => {
    notifier = startNotifier(t.infra.config, { logger: createLogger("notifier", t.infra.config) });
  };
  const stopTheNotifier = async () => {
    await notifier?.close();
    notifier = undefined;
  };

  async function submit(n: number) {
    const items = await makeItems(t.acme, n, `e${randomUUID().slice(0, 8)}`);
    const res = await postJson(t.acme, "/v1/batches", { model: "m", items });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; items: { jobKey: string; name: string }[] };
  }

  async function finish(batch: { items: { jobKey: string }[] }) {
    for (const item of batch.items) {
      await t.ledger.jobs.transition(item.jobKey, "running");
      await t.ledger.jobs.recordResult(stubResult(item.jobKey));
    }
  }

  const typesFor = (batchId: string) =>
    receiver
      .on("/all")
      .map((r) => JSON.parse(r.body) as WebhookPayload)
      .filter((p) => p.data.batchId === batchId)
      .map((p) => p.type)
      .sort();

  const until = async (what: string, f: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!f()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it("a batch watched after 5,000 others is heard (failure 4)", async () => {
    // 5,000 older batches the tenant's endpoint hears, submitted through the API (one item
    // each, all on the same inputs, so they share one job key that never runs).
    const [filler] = await makeItems(t.acme, 1, "filler");
    const inputs = filler?.inputs;
    let next = 0;
    const submitFillers = async () => {
      for (let i = next++; i < 5000; i = next++) {
        const res = await postJson(t.acme, "/v1/batches", { model: "m", items: [{ name: `f-${i}.mp4`, inputs }] });
        if (res.status !== 201) throw new Error(`filler ${i}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, submitFillers));
    startTheNotifier();
    try {
      const batch = await submit(1);
      await finish(batch);
      await until("the 5,001st batch's webhooks", () => typesFor(batch.id).length >= 2, 20_000);
      expect(typesFor(batch.id)).toEqual(["batch.completed", "item.succeeded"]);
    } finally {
      await stopTheNotifier();
    }
  });

  it("item and batch events outlive progress that overflows the stream while the notifier is down (failure 5)", async () => {
    const batch = await submit(3);
    await finish(batch);
    // 12,000 progress events: more than a batch's stream keeps (about 10,000).
    const jobKey = batch.items[0]?.jobKey as string;
    for (let start = 0; start < 12_000; start += 1000)
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          t.ledger.events.publish([batch.id], {
            type: "progress",
            jobKey,
            stage: "infer",
            done: start + i,
            total: 12_000,
          }),
        ),
      );

    // A web page resuming from before the items finished gets every state event.
    const sse = await t.acme(`/v1/batches/${batch.id}/events`, { headers: { "last-event-id": "0" } });
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const decoder = new TextDecoder();
    const deadline = Date.now() + 10_000;
    while ((text.match(/"state":"succeeded"/g) ?? []).length < 3 && Date.now() < deadline) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) =>
          setTimeout(() => r({ value: undefined, done: true }), 2000),
        ),
      ]);
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    expect((text.match(/"state":"succeeded"/g) ?? []).length).toBe(3);

    startTheNotifier();
    try {
      await until("3 item.succeeded and batch.completed", () => typesFor(batch.id).length >= 4, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(typesFor(batch.id)).toEqual(["batch.completed", "item.succeeded", "item.succeeded", "item.succeeded"]);
    } finally {
      await stopTheNotifier();
    }
  });

  it("a replay answers the batch's own webhook with its secret, and GET /v1/webhooks?batch= lists it", async () => {
    const items = await makeItems(t.acme, 1, `r${randomUUID().slice(0, 8)}`);
    const body = { model: "m", items, webhook: { url: receiver.url("/own") } };
    const key = { "idempotency-key": randomUUID() };
    const first = await postJson(t.acme, "/v1/batches", body, key);
    expect(first.status).toBe(201);
    const created = (await first.json()) as { id: string; webhook: { id: string; secret: string } };
    const again = await postJson(t.acme, "/v1/batches", body, key);
    expect(again.status).toBe(200);
    const replayed = (await again.json()) as { id: string; webhook?: { id: string; secret?: string } };
    expect(replayed.id).toBe(created.id);
    expect(replayed.webhook).toMatchObject({ id: created.webhook.id, secret: created.webhook.secret });

    const listed = await t.acme(`/v1/webhooks?batch=${created.id}`);
    expect(listed.status).toBe(200);
    const { webhooks } = (await listed.json()) as { webhooks: { id: string; batchId?: string; secret?: string }[] };
    expect(webhooks.map((w) => w.id)).toContain(created.webhook.id);
    expect(webhooks.find((w) => w.id === created.webhook.id)).toMatchObject({ batchId: created.id });
    expect(webhooks.every((w) => w.secret === undefined)).toBe(true);
    // Another tenant learns nothing about it.
    const theirs = (await (await t.globex(`/v1/webhooks?batch=${created.id}`)).json()) as { webhooks: unknown[] };
    expect(theirs.webhooks).toEqual([]);
  });

  it("a batch is subscribed by the script that creates it: no crash can leave it unheard", async () => {
    const id = randomUUID();
    const record: BatchRecord = {
      id,
      tenant: "acme",
      model: "0".repeat(64),
      adapter: "wav2lip",
      channels: "bgr",
      params: {},
      createdAt: new Date().toISOString(),
    };
    const own = newWebhookEndpoint({
      tenant: "acme",
      url: receiver.url("/own"),
      events: ["item.succeeded"],
      batchId: id,
    });
    const jobKey = randomUUID().replaceAll("-", "").repeat(2);
    // The API's first write; whatever happens after it, the batch's endpoints hear it.
    await t.ledger.batches.create(record, [{ name: "x.mp4", jobKey, inputs: {} } as never], undefined, own);
    const heard = (await t.ledger.webhooks.endpointsOf(id)).map((e) => e.id).sort();
    const tenantWide = (await t.ledger.webhooks.list("acme")).map((e) => e.id);
    expect(heard).toEqual([own.id, ...tenantWide].sort());
    expect((await t.ledger.webhooks.ownOf(id))?.secret).toBe(own.secret);
  });

  it("a finished batch's webhook keys expire with it: its own endpoint, its delivery list, its subscription", async () => {
    const items = await makeItems(t.acme, 1, `x${randomUUID().slice(0, 8)}`);
    const res = await postJson(t.acme, "/v1/batches", { model: "m", items, webhook: { url: receiver.url("/ttl") } });
    const batch = (await res.json()) as { id: string; items: { jobKey: string }[]; webhook: { id: string } };
    startTheNotifier();
    try {
      await finish(batch);
      await until("2 deliveries", () => receiver.on("/ttl").length >= 2, 20_000);
      const delivered = async () => (await t.ledger.webhooks.deliveries(batch.webhook.id, "delivered")).length;
      const deadline = Date.now() + 10_000;
      while ((await delivered()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await delivered()).toBe(2);
    } finally {
      await stopTheNotifier();
    }
    const retention = t.api.deps.ledger.options.batchRetentionSeconds;
    const keys = [
      () => redisKeys.batch(batch.id),
      () => redisKeys.webhookEndpoint(batch.webhook.id),
      () => redisKeys.webhookDeliveries(batch.webhook.id, "delivered"),
      () => redisKeys.batchWebhooks(batch.id),
      () => redisKeys.batchStateEvents(batch.id),
      () => redisKeys.webhookReader(batch.id),
    ];
    for (const keyOf of keys) {
      const key = keyOf();
      const ttl = await t.redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(retention - 60);
      expect(ttl, key).toBeLessThanOrEqual(retention);
    }
    // Rotating the secret keeps the expiry.
    expect((await t.acme(`/v1/webhooks/${batch.webhook.id}/rotate`, { method: "POST" })).status).toBe(200);
    expect(await t.redis.ttl(redisKeys.webhookEndpoint(batch.webhook.id))).toBeGreaterThan(retention - 60);
  });
});
