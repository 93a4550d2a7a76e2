import { randomBytes } from "node:crypto";
import {
  createPresigner,
  type PackageRecord,
  presignGet,
  presignPackageLinks,
  putStream,
  sha256Hex,
} from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpForwarder, type TcpForwarder } from "../../../test/harness/tcp-forwarder.ts";
import { BlobService } from "../src/services/blob.service.ts";
import { serviceDeps } from "../src/services/service-fixture.ts";

/**
 * S3_PUBLIC_ENDPOINT: links are signed for the address people reach (here a forwarder on
 * 127.0.0.2 and a port of its own, standing for a published port), while the services talk
 * to the internal S3_ENDPOINT.
 */
describe("presigned links for S3_PUBLIC_ENDPOINT", () => {
  let forwarder: TcpForwarder;
  let env: Awaited<ReturnType<typeof serviceDeps>>;

  beforeAll(async () => {
    forwarder = await startTcpForwarder("127.0.0.2");
    env = await serviceDeps({ S3_PUBLIC_ENDPOINT: `http://${forwarder.address}` });
    const internal = new URL(env.deps.config.S3_ENDPOINT as string);
    forwarder.target = { host: internal.hostname, port: Number(internal.port) };
  });
  afterAll(async () => {
    await env?.stop();
    await forwarder?.close();
  });

  it("signs a blob upload for the public address; the bytes go through it and the API completes it inside", async () => {
    const blobs = new BlobService(env.deps);
    const bytes = randomBytes(4096);
    const offer = await blobs.offerUpload("acme", { sha256: sha256Hex(bytes), size: bytes.length });
    if (offer.exists) throw new Error("expected an upload offer");
    expect(new URL(offer.url).host).toBe(forwarder.address);

    const before = forwarder.bytesIn;
    const put = await fetch(offer.url, { method: "PUT", body: new Uint8Array(bytes), headers: offer.headers });
    expect(put.status, await put.text()).toBe(200);
    expect(forwarder.bytesIn - before).toBeGreaterThan(bytes.length);
    // The API reads the staged bytes back over S3_ENDPOINT and grants them.
    expect(await blobs.completeUpload("acme", offer.uploadId)).toEqual({
      status: 201,
      blob: { sha256: sha256Hex(bytes), size: bytes.length },
    });
  });

  it("signs package links for the public address, and a part downloads through it intact", async () => {
    const { config } = env.deps;
    const part = randomBytes(100_000);
    const key = "packages/p1/batch-part-001.zip";
    await putStream(env.deps.s3, { bucket: config.S3_BUCKET, key, body: part });
    const record: PackageRecord = {
      id: "p1",
      tenant: "acme",
      batchId: "b1",
      partSize: part.length,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      state: "ready",
      parts: [{ name: "batch-part-001.zip", key, size: part.length, sha256: sha256Hex(part), items: [0] }],
    };
    const links = await presignPackageLinks(createPresigner(config), config.S3_BUCKET, record);
    const url = new URL(links?.parts[0]?.url as string);
    expect(url.host).toBe(forwarder.address);

    const before = forwarder.bytesOut;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(sha256Hex(Buffer.from(await res.arrayBuffer()))).toBe(sha256Hex(part));
    expect(forwarder.bytesOut - before).toBeGreaterThan(part.length);
    // The signature covers the host the link names (SigV4 always signs it).
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
  });

  it("signs for S3_ENDPOINT when no public endpoint is set", async () => {
    const { S3_PUBLIC_ENDPOINT: _, ...inside } = env.deps.config;
    const url = new URL(await presignGet(createPresigner(inside), inside.S3_BUCKET, "any/key", 60));
    expect(url.host).toBe(new URL(env.deps.config.S3_ENDPOINT as string).host);
  });
});
