import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack, waitForBatch, waitForPackage } from "@mediaq/cli";
import type { WebhookPayload } from "@mediaq/shared";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../harness/media.ts";
import { startReceiver } from "../harness/webhook-receiver.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/**
 * Webhooks from the real pipeline: the stack of `mediaq dev` (API, worker, packager and
 * notifier processes) with a receiver on 127.0.0.1 (WEBHOOK_ALLOW_HTTP and the test-only
 * WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS). A second endpoint of the tenant never answers.
 */
describe("webhooks from the pipeline", () => {
  let stack: DevStack;
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-webhooks-"));
    receiver = await startReceiver({ "/hang": () => "hang" });
    stack = await startDevStack({
      dataDir: path.join(dir, "stack"),
      apiKeys: "acme:key-acme",
      env: {
        WEBHOOK_ALLOW_HTTP: "true",
        WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: "true",
        // The hanging endpoint is given a minute per attempt: it holds delivery slots throughout the batch.
        WEBHOOK_TIMEOUT_MS: "60000",
        WEBHOOK_CONCURRENCY: "4",
        JOB_ATTEMPTS: "2",
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a batch of 3 with one bad item tells items, the batch and its packages; a hanging endpoint delays nothing", async () => {
    const client = stack.client;
    const hanging = await fetch(`${stack.apiUrl}/v1/webhooks`, {
      method: "POST",
      headers: { authorization: "Bearer key-acme", "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url("/hang") }),
    });
    expect(hanging.status).toBe(201);

    const items = [];
    for (let i = 0; i < 3; i++) {
      const video = path.join(dir, `v${i}.mp4`);
      const audio = path.join(dir, `a${i}.wav`);
      if (i === 1) fs.writeFileSync(video, randomBytes(4096));
      else await makeVideo(video, { seconds: 1, frequency: 300 + i * 50 });
      await makeAudio(audio, { seconds: 1, frequency: 200 + i * 30 });
      const v = await client.putBlobFile(video);
      const a = await client.putBlobFile(audio);
      items.push({ name: `clip-${i}.mp4`, inputs: { video: v.sha256, audio: a.sha256 } });
    }
    const batch = await client.createBatch({
      model: "demo",
      items,
      params: { box: [40, 30, 80, 70] },
      webhook: { url: receiver.url("/ok") },
    });
    const secret = batch.webhook?.secret as string;
    expect(secret).toMatch(/^whsec_/);

    const status = await waitForBatch(client, batch.id, undefined, { timeoutMs: 120_000 });
    expect(status.counts).toMatchObject({ succeeded: 2, failed: 1 });
    // The batch finished while the hanging endpoint held its deliveries open: it has been
    // sent requests and answered none.
    expect(receiver.on("/hang").length).toBeGreaterThan(0);

    const pkg = await waitForPackage(client, (await client.createPackage(batch.id)).id, undefined, {
      timeoutMs: 60_000,
    });
    const wh = new Webhook(secret);
    const types = () =>
      receiver
        .on("/ok")
        .map((r) => wh.verify(r.body, r.headers as Record<string, string>) as WebhookPayload)
        .filter((p) => p.data.batchId === batch.id);
    const deadline = Date.now() + 90_000;
    while (!types().some((p) => p.type === "package.ready") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const payloads = types();
    expect(payloads.map((p) => p.type).sort()).toEqual([
      "batch.completed",
      "batch.failed_items",
      "item.failed",
      "item.succeeded",
      "item.succeeded",
      "package.ready",
    ]);
    // package.failed is told as in test/integration/webhooks.test.ts (a package the packager gives up).
    const failed = payloads.find((p) => p.type === "item.failed");
    expect(failed?.type === "item.failed" && failed.data.items.map((i) => i.name)).toEqual(["clip-1.mp4"]);
    const ready = payloads.find((p) => p.type === "package.ready");
    if (ready?.type !== "package.ready") throw new Error("no package.ready");
    expect(ready.data.packageId).toBe(pkg.id);
    expect(Date.parse(ready.data.linksExpireAt)).toBeGreaterThan(Date.now());
    // The links in the payload download the parts.
    const part = ready.data.parts[0];
    const res = await fetch(part?.url as string);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).length).toBe(part?.size);
  });

  it("mediaq submit --webhook prints the secret once and the receiver verifies with it", async () => {
    const folder = path.join(dir, "cli-inbox");
    fs.mkdirSync(folder);
    await makeVideo(path.join(folder, "solo.mp4"), { seconds: 1, frequency: 640 });
    await makeAudio(path.join(folder, "solo.wav"), { seconds: 1, frequency: 330 });
    const { stderr } = await run(
      process.execPath,
      [MEDIAQ, "submit", folder, "--model", "demo", "--params", "box=[40,30,80,70]", "--webhook", receiver.url("/cli")],
      { env: { ...process.env, MEDIAQ_API_URL: stack.apiUrl, MEDIAQ_API_KEY: stack.apiKey } },
    );
    const secret = /signing secret (whsec_\S+)/.exec(stderr)?.[1];
    expect(secret, stderr).toBeDefined();
    const deadline = Date.now() + 90_000;
    while (!receiver.on("/cli").some((r) => r.body.includes("batch.completed")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const wh = new Webhook(secret as string);
    const types = receiver
      .on("/cli")
      .map((r) => (wh.verify(r.body, r.headers as Record<string, string>) as WebhookPayload).type);
    expect(types.sort()).toEqual(["batch.completed", "item.succeeded"]);
  });
});
