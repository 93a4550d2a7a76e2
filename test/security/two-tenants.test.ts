import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ApiClient, type DevStack, demoModelPath, startDevStack, waitForBatch, waitForPackage } from "@mediaq/cli";
import { sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../harness/media.ts";
import { json, KEY_A, KEY_B, problemOf } from "./api-process.ts";

/**
 * Black box, two tenants, every service a real process (`mediaq dev`: redis-server, the S3
 * server, API, worker, packager). acme runs a batch to a package; globex, knowing every id
 * and hash acme has, tries to read, list, probe and use them.
 */
describe("security: two tenants, black box", () => {
  let stack: DevStack;
  let dir: string;
  const acme: {
    video: string;
    audio: string;
    model: string;
    batch: string;
    jobKey: string;
    output: string;
    pkg: string;
    idem: string;
  } = {} as never;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-sec-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), apiKeys: `acme:${KEY_A},globex:${KEY_B}` });
    const client = new ApiClient(stack.apiUrl, KEY_A);
    const video = path.join(dir, "v.mp4");
    const audio = path.join(dir, "a.wav");
    await makeVideo(video, { seconds: 1, frequency: 420 });
    await makeAudio(audio, { seconds: 1, frequency: 230 });
    // Uploaded the way the CLI does: presigned PUT, then complete.
    for (const file of [video, audio]) {
      const sha256 = sha256Hex(fs.readFileSync(file));
      const offer = await client.requestUpload(sha256, fs.statSync(file).size);
      if (offer.exists) throw new Error(`${file} is held already`);
      await client.uploadPresigned(offer.url, offer.headers, file);
      await client.completeUpload(offer.uploadId);
    }
    acme.video = sha256Hex(fs.readFileSync(video));
    acme.audio = sha256Hex(fs.readFileSync(audio));
    acme.model = sha256Hex(fs.readFileSync(demoModelPath()));
    acme.idem = "same-idempotency-key";
    const batch = await client.createBatch(
      {
        model: "demo",
        items: [{ name: "a.mp4", inputs: { video: acme.video, audio: acme.audio } }],
        params: { box: [40, 30, 80, 70] },
      },
      acme.idem,
    );
    acme.batch = batch.id;
    acme.jobKey = batch.items[0]?.jobKey as string;
    await waitForBatch(client, batch.id, undefined, { timeoutMs: 120_000 });
    const items = await client.listItems(batch.id);
    acme.output = items.items[0]?.output?.sha256 as string;
    expect(acme.output).toMatch(/^[0-9a-f]{64}$/);
    const pkg = await client.createPackage(batch.id);
    acme.pkg = pkg.id;
    expect((await waitForPackage(client, pkg.id, undefined, { timeoutMs: 120_000 })).state).toBe("ready");
    // The set-up runs the whole pipeline (start, upload, infer, package), each wait bounded above.
  }, 300_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const globex = (p: string, init: RequestInit = {}) =>
    fetch(stack.apiUrl + p, {
      ...init,
      headers: { authorization: `Bearer ${KEY_B}`, ...(init.headers as Record<string, string>) },
    });

  it("globex can neither read, list, probe nor use acme's blobs, models, batches, packages or events", async () => {
    // Blobs (inputs, model, output): HEAD 404, and an offer looks like one for unknown bytes.
    for (const sha256 of [acme.video, acme.audio, acme.model, acme.output]) {
      expect((await globex(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(404);
      const offer = await globex("/v1/blobs/uploads", json({ sha256, size: 1000 }));
      expect(offer.status).toBe(201);
      expect(((await offer.json()) as { exists: boolean }).exists).toBe(false);
    }
    // Models: none listed; acme's tag and acme's model hash are unknown to globex.
    expect(await (await globex("/v1/models")).json()).toEqual({ models: [] });
    const items = [{ name: "b.mp4", inputs: { video: acme.video, audio: acme.audio } }];
    for (const model of ["demo", acme.model]) {
      const refused = await problemOf(
        await globex("/v1/batches", json({ model, items, params: { box: [40, 30, 80, 70] } })),
      );
      expect(refused.status).toBe(400);
      expect(refused.type).toContain("unknown-model");
    }
    // With a model of its own, acme's input hashes are still refused as never uploaded.
    const own = await globex("/v1/models?tag=mine&adapter=wav2lip", {
      method: "POST",
      body: new Uint8Array(fs.readFileSync(demoModelPath())),
    });
    expect(own.status).toBe(201);
    const inputs = await problemOf(
      await globex("/v1/batches", json({ model: "mine", items, params: { box: [40, 30, 80, 70] } })),
    );
    expect(inputs.status).toBe(400);
    expect(inputs.detail).toContain(acme.video);

    // The owner gets presigned links to its output and poster; globex gets 404 below.
    const media = await fetch(`${stack.apiUrl}/v1/batches/${acme.batch}/items/0/media`, {
      headers: { authorization: `Bearer ${KEY_A}` },
    });
    expect(media.status).toBe(200);
    const links = (await media.json()) as { video: string; poster: string | null; sha256: string };
    expect(links.sha256).toBe(acme.output);
    expect((await fetch(links.video)).status).toBe(200);
    expect((await fetch(links.poster as string)).headers.get("content-type")).toBe("image/jpeg");

    // Batches, items, events, packages: not listed, and 404 by id, for reads and writes alike.
    const listed = (await (await globex("/v1/batches")).json()) as { batches: { id: string }[] };
    expect(listed.batches.map((b) => b.id)).not.toContain(acme.batch);
    for (const [method, p, body] of [
      ["GET", `/v1/batches/${acme.batch}`],
      ["GET", `/v1/batches/${acme.batch}/items`],
      ["GET", `/v1/batches/${acme.batch}/items?posters=true`],
      ["GET", `/v1/batches/${acme.batch}/items/0/media`],
      ["GET", `/v1/batches/${acme.batch}/events`],
      ["POST", `/v1/batches/${acme.batch}/retry`],
      ["POST", `/v1/batches/${acme.batch}/packages`, "{}"],
      ["POST", `/v1/batches/${acme.batch}/items`, JSON.stringify({ items })],
      ["DELETE", `/v1/batches/${acme.batch}`],
      ["GET", `/v1/packages/${acme.pkg}`],
    ] as const) {
      const res = await globex(p, {
        method,
        ...(body ? { body, headers: { "content-type": "application/json" } } : {}),
      });
      const problem = await problemOf(res);
      expect(problem.status, `${method} ${p}`).toBe(404);
      expect(JSON.stringify(problem)).not.toContain("acme");
    }

    // The same Idempotency-Key and the same work give globex a batch of its own, with its own job key.
    const mine = async (file: string) =>
      (
        (await (await globex("/v1/blobs", { method: "PUT", body: new Uint8Array(fs.readFileSync(file)) })).json()) as {
          sha256: string;
        }
      ).sha256;
    expect(await mine(path.join(dir, "v.mp4"))).toBe(acme.video);
    expect(await mine(path.join(dir, "a.wav"))).toBe(acme.audio);
    const theirs = await globex("/v1/batches", {
      ...json({ model: "mine", items, params: { box: [40, 30, 80, 70] } }),
      headers: { "content-type": "application/json", "idempotency-key": acme.idem },
    });
    expect(theirs.status).toBe(201);
    const created = (await theirs.json()) as { id: string; items: { jobKey: string }[] };
    expect(created.id).not.toBe(acme.batch);
    expect(created.items[0]?.jobKey).not.toBe(acme.jobKey);

    // acme's things are all still there for acme.
    const acmeClient = new ApiClient(stack.apiUrl, KEY_A);
    expect((await acmeClient.getBatch(acme.batch)).counts.succeeded).toBe(1);
    expect((await acmeClient.getPackage(acme.pkg)).state).toBe("ready");
  });
});
