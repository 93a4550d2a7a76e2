import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack, waitForBatch, waitForPackage } from "@mediaq/cli";
import { createRedis, redisKeys, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../harness/media.ts";

const run = promisify(execFile);

/**
 * The whole pipeline as a user meets it: the embedded stack of `mediaq dev` (real
 * redis-server, S3 server, API, worker and packager processes), blobs uploaded over HTTP,
 * a batch lip-synced with the demo model, packaged, and downloaded through presigned links.
 */
describe("pipeline end to end", () => {
  let stack: DevStack;
  let dir: string;
  const inputs: { name: string; video: string; audio: string }[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-e2e-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), apiKeys: "acme:key-acme,globex:key-globex" });
    for (let i = 0; i < 3; i++) {
      const video = path.join(dir, `v${i}.mp4`);
      const audio = path.join(dir, `a${i}.wav`);
      await makeVideo(video, { seconds: 1, frequency: 300 + i * 50 });
      await makeAudio(audio, { seconds: 1, frequency: 200 + i * 30 });
      inputs.push({ name: `clip ${i}.mp4`, video, audio });
    }
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const inferenceRuns = async () => {
    const redis = createRedis({ REDIS_URL: stack.redis.url });
    const n = Number((await redis.get(redisKeys.inferenceRuns)) ?? 0);
    await redis.quit();
    return n;
  };

  it("runs a batch, packages it and serves verifiable parts; a re-submit runs nothing", async () => {
    const client = stack.client;
    const items = [];
    for (const input of inputs) {
      const video = await client.putBlobFile(input.video);
      const audio = await client.putBlobFile(input.audio);
      expect(video.sha256).toBe(sha256Hex(fs.readFileSync(input.video)));
      items.push({ name: input.name, inputs: { video: video.sha256, audio: audio.sha256 } });
    }
    const batch = await client.createBatch({ model: "demo", items, params: { box: [40, 30, 80, 70] } });
    expect(batch.total).toBe(3);
    const status = await waitForBatch(client, batch.id, undefined, { timeoutMs: 120_000 });
    expect(status.counts).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0 });
    expect(await inferenceRuns()).toBe(3);

    const listed = await client.listItems(batch.id);
    expect(listed.items.map((i) => i.name)).toEqual(inputs.map((i) => i.name));
    for (const item of listed.items) expect(item.output?.sha256).toMatch(/^[0-9a-f]{64}$/);

    // Package with a part size that forces several parts, then download like a customer.
    // Room for the largest item plus what every part carries besides it (local headers, the
    // manifest with every item's params and timings, the central directory), so no item is
    // oversize and every part must keep within partSize.
    const partSize = Math.max(...listed.items.map((i) => i.output?.size ?? 0)) + 16_384;
    const created = await client.createPackage(batch.id, { partSize });
    const pkg = await waitForPackage(client, created.id, undefined, { timeoutMs: 60_000 });
    expect(pkg.parts.length).toBeGreaterThan(1);
    const manifest = await (await fetch(pkg.manifest?.url as string)).json();
    type ManifestItem = { name: string; entry: string; sha256: string };
    const out = path.join(dir, "download");
    fs.mkdirSync(out);
    for (const part of pkg.parts) {
      const res = await fetch(part.url);
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.length).toBe(part.size);
      expect(bytes.length).toBeLessThanOrEqual(partSize);
      fs.writeFileSync(path.join(out, part.name), bytes);
      await run("unzip", ["-t", path.join(out, part.name)]);
    }
    const sums = await (await fetch(pkg.sha256sums?.url as string)).text();
    fs.writeFileSync(path.join(out, "SHA256SUMS"), sums);
    expect(sums.trim().split("\n")).toHaveLength(pkg.parts.length);
    await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });

    expect(manifest.items).toHaveLength(3);
    for (const item of listed.items) {
      const entry = manifest.items.find((m: { name: string }) => m.name === item.name);
      expect(entry?.sha256).toBe(item.output?.sha256);
    }
    // Every part opens alone; all together they hold every output, byte for byte.
    const extracted = path.join(dir, "extracted");
    for (const part of pkg.parts) await run("unzip", ["-o", "-q", path.join(out, part.name), "-d", extracted]);
    for (const entry of manifest.items as ManifestItem[]) {
      expect(sha256Hex(fs.readFileSync(path.join(extracted, entry.entry)))).toBe(entry.sha256);
    }

    // Resume: the same items again, in a new batch, run no inference and succeed at once.
    const again = await client.createBatch({ model: "demo", items, params: { box: [40, 30, 80, 70] } });
    expect(again.id).not.toBe(batch.id);
    expect(again.counts.succeeded).toBe(3);
    expect((await client.getBatch(again.id)).done).toBe(true);
    expect(await inferenceRuns()).toBe(3);

    // Only a changed item runs.
    const changed = await client.createBatch({ model: "demo", items, params: { box: [40, 30, 80, 72] } });
    await waitForBatch(client, changed.id, undefined, { timeoutMs: 120_000 });
    expect(await inferenceRuns()).toBe(6);

    // Another tenant sees none of it.
    const other = await fetch(`${stack.apiUrl}/v1/batches/${batch.id}`, {
      headers: { authorization: "Bearer key-globex" },
    });
    expect(other.status).toBe(404);
    expect(other.headers.get("content-type")).toContain("application/problem+json");
    const otherPkg = await fetch(`${stack.apiUrl}/v1/packages/${pkg.id}`, {
      headers: { authorization: "Bearer key-globex" },
    });
    expect(otherPkg.status).toBe(404);
    const noKey = await fetch(`${stack.apiUrl}/v1/batches/${batch.id}`);
    expect(noKey.status).toBe(401);
  });
});
