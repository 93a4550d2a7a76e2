import { headObject, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepStagedUploads } from "../src/staging-sweeper.ts";
import { problemOf, randomBlob, startTestApi, type TestApi } from "./helpers.ts";

/** Asks for a presigned upload and PUTs the bytes, without completing it. */
async function stageUpload(t: TestApi, body: Buffer): Promise<{ complete: string; key: string }> {
  const res = await t.acme("/v1/blobs/uploads", {
    method: "POST",
    body: JSON.stringify({ sha256: sha256Hex(body), size: body.length }),
    headers: { "content-type": "application/json" },
  });
  expect(res.status).toBe(201);
  const offer = (await res.json()) as { url: string; headers: Record<string, string>; complete: string };
  const put = await fetch(offer.url, { method: "PUT", body: new Uint8Array(body), headers: offer.headers });
  expect(put.status, await put.text()).toBe(200);
  // The presigned URL names the staged object's key.
  const key = decodeURIComponent(new URL(offer.url).pathname).replace(/^\/[^/]+\//, "");
  expect(key).toMatch(/^tmp\/uploads\//);
  return { complete: offer.complete, key };
}

describe("staged uploads never completed", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => t?.stop());

  it("are kept for UPLOAD_STAGING_TTL_SECONDS, then deleted; completed blobs stay", async () => {
    const { s3, config } = t.api.deps;
    const bucket = config.S3_BUCKET;
    const sweep = (now: number) =>
      sweepStagedUploads({ s3, bucket, logger: t.api.deps.logger, ttlSeconds: config.UPLOAD_STAGING_TTL_SECONDS }, now);

    const done = randomBlob(2048);
    const completed = await stageUpload(t, done);
    expect((await t.acme(completed.complete, { method: "POST" })).status).toBe(201);
    const abandoned = await stageUpload(t, randomBlob(4096));

    // Within the TTL a client may still complete it.
    expect(await sweep(Date.now())).not.toContain(abandoned.key);
    expect(await headObject(s3, bucket, abandoned.key)).toBeDefined();

    const later = Date.now() + (config.UPLOAD_STAGING_TTL_SECONDS + 1) * 1000;
    expect(await sweep(later)).toContain(abandoned.key);
    expect(await headObject(s3, bucket, abandoned.key)).toBeUndefined();
    // Completing it now says what happened and what to do.
    const problem = await problemOf(await t.acme(abandoned.complete, { method: "POST" }));
    expect(problem.status).toBe(404);
    expect(problem.detail).toMatch(/deleted; then ask POST \/v1\/blobs\/uploads/);
    // The completed blob is untouched.
    expect((await t.acme(`/v1/blobs/${sha256Hex(done)}`, { method: "HEAD" })).status).toBe(200);
  });
});
