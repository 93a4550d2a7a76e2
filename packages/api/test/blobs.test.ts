import { sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
const MiB = 1024 ** 2;
import { problemOf, putBlob, randomBlob, startTestApi, type TestApi } from "./helpers.ts";

describe("blobs, models, auth and service routes", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ maxBlobBytes: 13 * MiB }, { METRICS_TOKEN: "metrics-token-0123456789" });
  });
  afterAll(async () => t?.stop());

  it("streams a 12 MiB PUT into S3 (201), and the same bytes again answer 200 with the same hash", async () => {
    const body = randomBlob(12 * MiB);
    const first = await t.acme("/v1/blobs", { method: "PUT", body: new Uint8Array(body) });
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ sha256: sha256Hex(body), size: body.length });
    const again = await t.acme("/v1/blobs", {
      method: "PUT",
      body: new Uint8Array(body),
      headers: { "content-type": "video/mp4" },
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ sha256: sha256Hex(body), size: body.length });

    const head = await t.acme(`/v1/blobs/${sha256Hex(body)}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(body.length));
    // Another tenant cannot see it, even though the object exists.
    expect((await t.globex(`/v1/blobs/${sha256Hex(body)}`, { method: "HEAD" })).status).toBe(404);
  });

  it("refuses a body over the blob limit with 413 problem+json", async () => {
    const res = await t.acme("/v1/blobs", { method: "PUT", body: new Uint8Array(randomBlob(14 * MiB)) });
    const problem = await problemOf(res);
    expect(problem.status).toBe(413);
    expect(problem.detail).toMatch(/POST \/v1\/blobs\/uploads/);
  });

  it("issues a presigned PUT for a declared hash; once completed (bytes checked) HEAD answers 200", async () => {
    const body = randomBlob(4096);
    const sha256 = sha256Hex(body);
    expect((await t.acme(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(404);
    const res = await t.acme("/v1/blobs/uploads", {
      method: "POST",
      body: JSON.stringify({ sha256, size: body.length }),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(201);
    const offer = (await res.json()) as {
      exists: false;
      url: string;
      headers: Record<string, string>;
      expiresAt: string;
      complete: string;
    };
    expect(offer.exists).toBe(false);
    expect(Date.parse(offer.expiresAt)).toBeGreaterThan(Date.now());

    const put = await fetch(offer.url, { method: "PUT", body: new Uint8Array(body), headers: offer.headers });
    expect(put.status, await put.text()).toBe(200);
    // Not granted until the API has checked the bytes.
    expect((await t.acme(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(404);
    const done = await t.acme(offer.complete, { method: "POST" });
    expect(done.status).toBe(201);
    expect(await done.json()).toEqual({ sha256, size: body.length });
    expect((await t.acme(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(200);
    // Completing twice answers like an existing blob.
    expect((await t.acme(offer.complete, { method: "POST" })).status).toBe(200);

    // Asking again says this key holds it; another tenant is offered an upload as for any new blob.
    const mine = await t.acme("/v1/blobs/uploads", {
      method: "POST",
      body: JSON.stringify({ sha256, size: body.length }),
      headers: { "content-type": "application/json" },
    });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ exists: true, sha256 });
    const theirs = await t.globex("/v1/blobs/uploads", {
      method: "POST",
      body: JSON.stringify({ sha256, size: body.length }),
      headers: { "content-type": "application/json" },
    });
    expect(theirs.status).toBe(201);
    expect((await t.globex(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(404);
  });

  it("rejects a malformed upload request naming the field", async () => {
    const res = await t.acme("/v1/blobs/uploads", {
      method: "POST",
      body: JSON.stringify({ sha256: "ABC", size: 10 }),
      headers: { "content-type": "application/json" },
    });
    const problem = await problemOf(res);
    expect(problem.status).toBe(400);
    expect(problem.detail).toContain("body.sha256");
  });

  it("answers 401 problem+json saying how to pass the key", async () => {
    for (const res of [
      await t.anon("/v1/models"),
      await t.anon("/v1/models", { headers: { authorization: "Bearer wrong" } }),
    ]) {
      const problem = await problemOf(res);
      expect(problem.status).toBe(401);
      expect(problem.detail).toContain("Authorization: Bearer");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it("stores a model as a blob under a tag, per tenant", async () => {
    const bytes = randomBlob(2048);
    const res = await t.acme("/v1/models?tag=wav2lip@test&adapter=wav2lip", {
      method: "POST",
      body: new Uint8Array(bytes),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(201);
    // Without channels= the adapter's order applies (wav2lip: bgr, as Wav2Lip was trained).
    const model = { tag: "wav2lip@test", sha256: sha256Hex(bytes), adapter: "wav2lip", channels: "bgr" };
    expect(await res.json()).toEqual(model);
    const rgb = await t.acme("/v1/models?tag=wav2lip@rgb&adapter=wav2lip&channels=rgb", {
      method: "POST",
      body: new Uint8Array(bytes),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(await rgb.json()).toEqual({ ...model, tag: "wav2lip@rgb", channels: "rgb" });
    expect(await (await t.acme("/v1/models")).json()).toEqual({
      models: [{ ...model, tag: "wav2lip@rgb", channels: "rgb" }, model],
    });
    expect(await (await t.globex("/v1/models")).json()).toEqual({ models: [] });
    const bad = await problemOf(await t.acme("/v1/models?tag=x&adapter=nope", { method: "POST", body: "x" }));
    expect(bad.detail).toContain("querystring.adapter");
    const badOrder = await problemOf(
      await t.acme("/v1/models?tag=x&adapter=wav2lip&channels=grb", { method: "POST", body: "x" }),
    );
    expect(badOrder.detail).toContain("querystring.channels");
    // A blob uploaded as a model is an ordinary blob of its owner.
    await putBlob(t.acme, bytes);
  });

  it("answers unknown routes with 404 problem+json", async () => {
    const problem = await problemOf(await t.acme("/v1/nothing-here"));
    expect(problem.status).toBe(404);
    expect((await problemOf(await t.anon("/nope"))).status).toBe(404);
  });

  it("serves health, readiness and the OpenAPI document without a key, metrics with METRICS_TOKEN", async () => {
    expect(await (await t.anon("/healthz")).json()).toEqual({ status: "ok" });
    const ready = await t.anon("/readyz");
    expect(ready.status).toBe(200);
    expect((await t.anon("/metrics")).status).toBe(401);
    const metrics = await (
      await t.anon("/metrics", { headers: { authorization: "Bearer metrics-token-0123456789" } })
    ).text();
    expect(metrics).toMatch(/mediaq_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/blobs"/);
    expect(metrics).toMatch(/mediaq_queue_jobs\{[^}]*queue="inference"[^}]*state="waiting"/);
    const doc = (await (await t.anon("/docs/json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/blobs", "/v1/batches", "/v1/batches/{id}/items", "/v1/packages/{id}"]),
    );
    expect((await t.anon("/docs")).status).toBeLessThan(400);
  });
});
