import { createLogger, type WebhookPayload } from "@mediaq/shared";
import { type RunningNotifier, startNotifier } from "@mediaq/notifier";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeItems,
  postJson,
  problemOf,
  startTestApi,
  type TestApi,
  uploadModel,
} from "../../packages/api/test/helpers.ts";
import { markFailed } from "../../packages/packager/src/part-job.ts";
import { launchChromium } from "../harness/browser.ts";
import { guardLoopbackOnly, startReceiver } from "../harness/webhook-receiver.ts";
import { stubResult } from "../harness/stub-result.ts";

/**
 * Webhooks through the API and the notifier, on a real Redis and a real receiving server on
 * 127.0.0.1 (WEBHOOK_ALLOW_HTTP plus the test-only WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS). The test
 * plays the worker by moving item states in the ledger. Short backoff (WEBHOOK_BACKOFF_MS=50)
 * keeps retries quick; the default spreads 15 attempts over about 23 h.
 */

// Test hostnames: what the API sees at registration and what the notifier sees at connect time.
const apiNames: Record<string, string[]> = {
  "hooks.test": ["127.0.0.1"],
  "rebind.test": ["127.0.0.1"],
  "private.test": ["10.0.0.5"],
  "metadata.test": ["169.254.169.254"],
  "mapped.test": ["::ffff:192.168.1.20"],
};
const notifierNames: Record<string, string[]> = {
  "hooks.test": ["127.0.0.1"],
  // DNS rebinding: loopback (allowed in this test) when registered, private when delivered.
  "rebind.test": ["10.0.0.5"],
};
const resolverOf = (names: Record<string, string[]>) => async (host: string) =>
  (names[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

describe("webhooks", () => {
  let t: TestApi;
  let notifier: RunningNotifier;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const guard = guardLoopbackOnly();

  beforeAll(async () => {
    receiver = await startReceiver({
      "/flaky": (n) => (n <= 3 ? 500 : 200),
      "/hang": () => "hang",
    });
    t = await startTestApi(
      { webhookResolve: resolverOf(apiNames) },
      {
        WEBHOOK_ALLOW_HTTP: "true",
        WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: "true",
        WEBHOOK_BACKOFF_MS: "50",
        WEBHOOK_ATTEMPTS: "5",
        WEBHOOK_TIMEOUT_MS: "500",
      },
    );
    await uploadModel(t.acme, "m");
    notifier = startNotifier(t.infra.config, {
      logger: createLogger("notifier", t.infra.config),
      resolve: resolverOf(notifierNames),
    });
  });
  afterAll(async () => {
    await notifier?.close();
    await receiver?.close();
    await t?.stop();
    guard.restore();
    // No test may have connected anywhere but loopback.
    expect(guard.violations).toEqual([]);
  });

  /** Submits n items with a webhook, then finishes them like a worker: the listed ones fail. */
  async function runBatch(url: string, n: number, failing: number[] = [], events?: string[]) {
    const items = await makeItems(t.acme, n, `b${Date.now()}`);
    const res = await postJson(t.acme, "/v1/batches", { model: "m", items, webhook: { url, events } });
    expect(res.status).toBe(201);
    const batch = (await res.json()) as {
      id: string;
      items: { jobKey: string; name: string }[];
      webhook: { id: string; secret: string };
    };
    expect(batch.webhook.secret).toMatch(/^whsec_/);
    for (const [i, item] of batch.items.entries()) {
      await t.ledger.jobs.transition(item.jobKey, "running");
      if (failing.includes(i)) await t.ledger.jobs.transition(item.jobKey, "failed", "bad input: not a video");
      else await t.ledger.jobs.recordResult(stubResult(item.jobKey));
    }
    return batch;
  }

  const until = async <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const deliveriesOf = async (id: string, state: "dead" | "delivered") => {
    const res = await t.acme(`/v1/webhooks/${id}/deliveries?state=${state}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { deliveries: { webhookId: string; attempts: number; error?: string }[] }).deliveries;
  };

  it("signs every delivery so that standardwebhooks verifies it; items and the batch are told", async () => {
    const batch = await runBatch(receiver.url("/ok", "hooks.test"), 3, [1]);
    const mine = () => receiver.on("/ok").filter((r) => JSON.parse(r.body).data.batchId === batch.id);
    await until("5 events", () => mine().length >= 5);
    const wh = new Webhook(batch.webhook.secret);
    const payloads = mine().map((r) => wh.verify(r.body, r.headers as Record<string, string>) as WebhookPayload);
    expect(payloads.map((p) => p.type).sort()).toEqual([
      "batch.completed",
      "batch.failed_items",
      "item.failed",
      "item.succeeded",
      "item.succeeded",
    ]);
    const failed = payloads.find((p) => p.type === "item.failed");
    expect(failed?.type === "item.failed" && failed.data.error).toContain("bad input");
    expect(failed?.type === "item.failed" && failed.data.items[0]?.name).toBe(batch.items[1]?.name);
    const done = payloads.find((p) => p.type === "batch.completed");
    expect(done?.type === "batch.completed" && done.data.counts).toEqual({
      pending: 0,
      running: 0,
      succeeded: 2,
      failed: 1,
    });
    // Another secret does not verify.
    const other = new Webhook(`whsec_${Buffer.alloc(24, 7).toString("base64")}`);
    const first = mine()[0];
    expect(() => other.verify(first?.body ?? "", first?.headers as Record<string, string>)).toThrow();
    expect((await deliveriesOf(batch.webhook.id, "delivered")).length).toBe(5);
  });

  it("tells package.failed, with the reason, when the packager gives a package up", async () => {
    const batch = await runBatch(receiver.url("/pkg", "hooks.test"), 1, [], ["package.failed"]);
    const res = await postJson(t.acme, `/v1/batches/${batch.id}/packages`, {});
    expect(res.status).toBeLessThan(300);
    const { id } = (await res.json()) as { id: string };
    // What the packager does when a part fails for good (no packager runs in this test).
    await markFailed({ store: t.ledger.packages, ledger: t.ledger }, id, "part 1: the output vanished");
    const got = await until("package.failed", () => receiver.on("/pkg")[0]);
    const payload = new Webhook(batch.webhook.secret).verify(
      got.body,
      got.headers as Record<string, string>,
    ) as WebhookPayload;
    expect(payload).toMatchObject({
      type: "package.failed",
      data: { batchId: batch.id, packageId: id, error: "part 1: the output vanished" },
    });
  });

  it("retries 500s with the same webhook-id and delivers exactly once", async () => {
    const batch = await runBatch(receiver.url("/flaky", "hooks.test"), 1, [], ["item.succeeded"]);
    await until("the 4th attempt", () => receiver.on("/flaky").length >= 4);
    await until("a delivered record", async () => (await deliveriesOf(batch.webhook.id, "delivered")).length > 0);
    await new Promise((r) => setTimeout(r, 500));
    const attempts = receiver.on("/flaky");
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((a) => a.headers["webhook-id"])).size).toBe(1);
    const delivered = await deliveriesOf(batch.webhook.id, "delivered");
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ webhookId: attempts[0]?.headers["webhook-id"], attempts: 4 });
    // Every attempt carries its own timestamp and a signature over it that verifies.
    const wh = new Webhook(batch.webhook.secret);
    for (const a of attempts) expect(() => wh.verify(a.body, a.headers as Record<string, string>)).not.toThrow();
  });

  it("lists a delivery to an endpoint that never answers as dead, through the API", async () => {
    const batch = await runBatch(receiver.url("/hang", "hooks.test"), 1, [], ["item.succeeded"]);
    const dead = await until("a dead letter", async () => {
      const d = await deliveriesOf(batch.webhook.id, "dead");
      return d.length > 0 ? d : undefined;
    });
    expect(dead[0]?.attempts).toBe(5);
    expect(dead[0]?.error).toMatch(/no answer|timeout|aborted/i);
    expect(receiver.on("/hang")).toHaveLength(5);
    expect(new Set(receiver.on("/hang").map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(await notifier.metrics.registry.getSingleMetricAsString("mediaq_webhook_dead_letters_total")).toMatch(
      /event="item\.succeeded"[^}]*} [1-9]/,
    );

    // The web page lists it too.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(t.api.url);
      await page.getByLabel("API key").fill("key-acme");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForSelector("#batch-rows");
      await page.goto(`${t.api.url}/#/webhooks/${batch.webhook.id}`);
      await expect.poll(() => page.locator("#dead-rows tr").count()).toBe(1);
      const row = await page.locator("#dead-rows tr").innerText();
      expect(row).toContain("item.succeeded");
      expect(row).toContain(batch.id);
      expect(row).toMatch(/no answer/);
    } finally {
      await browser.close();
    }
  });

  it("tenant endpoints: register with a filter, secret shown once, rotate, list, delete; other tenants see 404", async () => {
    const made = await postJson(t.acme, "/v1/webhooks", {
      url: receiver.url("/tenant", "hooks.test"),
      events: ["batch.completed"],
    });
    expect(made.status).toBe(201);
    const endpoint = (await made.json()) as { id: string; secret: string; events: string[] };
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(endpoint.events).toEqual(["batch.completed"]);
    const listed = (await (await t.acme("/v1/webhooks")).json()) as { webhooks: { id: string; secret?: string }[] };
    expect(listed.webhooks.map((w) => w.id)).toContain(endpoint.id);
    expect(listed.webhooks.every((w) => w.secret === undefined)).toBe(true);
    expect((await t.globex(`/v1/webhooks/${endpoint.id}`)).status).toBe(404);

    const rotated = (await (await postJson(t.acme, `/v1/webhooks/${endpoint.id}/rotate`, {})).json()) as {
      secret: string;
    };
    expect(rotated.secret).not.toBe(endpoint.secret);

    // A batch created now is heard by the tenant endpoint, filtered to batch.completed, signed with the new secret.
    const batch = await runBatch(receiver.url("/own", "hooks.test"), 2, [], ["item.succeeded"]);
    const got = await until("batch.completed at the tenant endpoint", () => {
      const r = receiver.on("/tenant").find((x) => JSON.parse(x.body).data.batchId === batch.id);
      return r;
    });
    const payload = new Webhook(rotated.secret).verify(
      got.body,
      got.headers as Record<string, string>,
    ) as WebhookPayload;
    expect(payload.type).toBe("batch.completed");
    expect(() => new Webhook(endpoint.secret).verify(got.body, got.headers as Record<string, string>)).toThrow();

    expect((await t.acme(`/v1/webhooks/${endpoint.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.acme(`/v1/webhooks/${endpoint.id}`)).status).toBe(404);
  });

  it("refuses private, loopback, link-local, metadata and IPv6-mapped endpoints at registration", async () => {
    const refused = [
      "http://10.0.0.5/x",
      "http://192.168.0.1/x",
      "http://169.254.169.254/latest/meta-data",
      "http://[fe80::1]/x",
      "http://[::ffff:10.0.0.1]/x",
      "http://[::ffff:a9fe:a9fe]/x",
      "http://private.test/x",
      "http://metadata.test/x",
      "http://mapped.test/x",
      "http://unknown.test/x",
      "ftp://hooks.test/x",
    ];
    for (const url of refused) {
      const res = await postJson(t.acme, "/v1/webhooks", { url });
      expect(res.status, url).toBe(400);
      expect((await problemOf(res)).detail, url).toMatch(/refused/);
    }
    // The batch field goes through the same check.
    const items = await makeItems(t.acme, 1, "ssrf");
    const res = await postJson(t.acme, "/v1/batches", {
      model: "m",
      items,
      webhook: { url: "http://metadata.test/x" },
    });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toMatch(/169\.254\.169\.254/);
  });

  it("refuses at delivery a name that now resolves to a private address, and a stored private IP, without connecting", async () => {
    const batch = await runBatch(`http://rebind.test:${receiver.port}/rebind`, 1, [], ["item.succeeded"]);
    const dead = await until("the rebind delivery dead", async () => {
      const d = await deliveriesOf(batch.webhook.id, "dead");
      return d.length > 0 ? d : undefined;
    });
    // Refused once, not retried: the same check would refuse it again.
    expect(dead[0]).toMatchObject({ attempts: 1 });
    expect(dead[0]?.error).toMatch(/rebind\.test resolves to 10\.0\.0\.5/);
    expect(receiver.on("/rebind")).toHaveLength(0);

    // An endpoint stored before a policy change (here: written straight to the store) is checked again.
    const stored = await t.api.deps.ledger.webhooks.create({
      tenant: "acme",
      url: "http://[::ffff:169.254.169.254]/latest",
      events: ["item.succeeded"],
    });
    const second = await runBatch(receiver.url("/unused", "hooks.test"), 1, [], ["batch.completed"]);
    const dead2 = await until("the metadata delivery dead", async () => {
      const d = await t.api.deps.ledger.webhooks.deliveries(stored.id, "dead");
      return d.find((x) => x.batchId === second.id);
    });
    expect(dead2.error).toMatch(/169\.254\.169\.254/);
    await t.api.deps.ledger.webhooks.delete(stored);
    expect(guard.violations).toEqual([]);
  });
});
