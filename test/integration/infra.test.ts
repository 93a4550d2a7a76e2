import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedis, createS3, ensureBucket, getObjectStream, headObject, putStream, sha256Hex } from "@mediaq/shared";
import { startInfra, type TestInfra } from "../harness/infra.ts";

describe("test infrastructure", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => infra?.stop());

  it("runs a Redis with AOF and noeviction", async () => {
    const redis = createRedis(infra.config);
    const [, aof] = (await redis.config("GET", "appendonly")) as string[];
    const [, policy] = (await redis.config("GET", "maxmemory-policy")) as string[];
    await redis.quit();
    expect(aof).toBe("yes");
    expect(policy).toBe("noeviction");
  });

  it("stores and returns bytes and metadata over the S3 API, multipart included", async () => {
    const s3 = createS3(infra.config);
    await ensureBucket(s3, infra.config.S3_BUCKET);
    const body = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    await putStream(s3, {
      bucket: infra.config.S3_BUCKET,
      key: "t/big",
      body,
      metadata: { a: "b" },
      partSize: 5 * 1024 * 1024,
    });
    const head = await headObject(s3, infra.config.S3_BUCKET, "t/big");
    expect(head?.ContentLength).toBe(body.length);
    expect(head?.Metadata).toEqual({ a: "b" });
    const chunks: Buffer[] = [];
    for await (const c of await getObjectStream(s3, infra.config.S3_BUCKET, "t/big")) chunks.push(c as Buffer);
    expect(sha256Hex(Buffer.concat(chunks))).toBe(sha256Hex(body));
    expect(await headObject(s3, infra.config.S3_BUCKET, "t/missing")).toBeUndefined();
  });
});
