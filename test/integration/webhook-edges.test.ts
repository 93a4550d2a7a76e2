import { randomUUID } from "node:crypto";
import {
  type BatchRecord,
  createLogger,
  OUTPUT_FILE,
  objectKeys,
  type ResultRecord,
  type WebhookPayload,
} from "@mediaq/shared";
import { type RunningNotifier, startNotifier } from "@mediaq/notifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeItems, postJson, startTestApi, type TestApi, uploadModel } from "../../packages/api/test/helpers.ts";
import { startReceiver } from "../harness/webhook-receiver.ts";

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

  const resultFor = (jobKey: string): ResultRecord => ({
    jobKey,
    key: objectKeys.output(jobKey, OUTPUT_FILE),
    sha256: "0".repeat(64),
    size: 3,
    model: "m",
    adapter: "wav2lip",
    inputs: { video: "1".repeat(64), audio: "2".repeat(64) },
    params: {},
    completedAt: new Date().toISOString(),
  });

  async function submit(n: number) {
    const items = await makeItems(t.acme, n, `e${randomUUID().slice(0, 8)}`);
    const res = await postJson(t.acme, "/v1/batches", { model: "m", items });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; items: { jobKey: string; name: string }[] };
  }

  async function finish(batch: { items: { jobKey: string }[] }) {
    for (const item of batch.items) {
      await t.ledger.jobs.transition(item.jobKey, "running");
      await t.ledger.jobs.recordResult(resultFor(item.jobKey));
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
    // 5,000 older batches the tenant's endpoint hears, seeded through the ledger.
    const hourAgo = Date.now() - 3600_000;
    for (let start = 0; start < 5000; start += 500) {
      await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const record: BatchRecord = {
            id: randomUUID(),
            tenant: "acme",
            model: "0".repeat(64),
            adapter: "wav2lip",
            channels: "bgr",
            params: {},
            createdAt: new Date(hourAgo + start + i).toISOString(),
          };
          const jobKey = randomUUID().replaceAll("-", "").repeat(2);
          // Subscribed to the tenant's endpoint with its creation, as the API does.
          await t.ledger.batches.create(record, [{ name: "x.mp4", jobKey, inputs: {} } as never]);
        }),
      );
    }
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
});
