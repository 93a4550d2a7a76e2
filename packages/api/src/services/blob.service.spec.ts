import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { DEFAULT_FACE_DETECTOR, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobService } from "./blob.service.ts";
import { serviceDeps } from "./service-fixture.ts";

const defaults = { detector: DEFAULT_FACE_DETECTOR.sha256, faceMinScore: null, smoothing: 5 };

describe(BlobService.name, () => {
  let env: Awaited<ReturnType<typeof serviceDeps>>;
  let sut: BlobService;

  beforeAll(async () => {
    env = await serviceDeps();
    sut = new BlobService({ ...env.deps, options: { maxBlobBytes: 64 * 1024 } });
  });
  afterAll(async () => env?.stop());

  describe("put", () => {
    it("should store the bytes under their hash, 201 for a new grant and 200 after", async () => {
      const bytes = randomBytes(1000);
      const first = await sut.put("acme", Readable.from([bytes]));
      expect(first).toEqual({ status: 201, blob: { sha256: sha256Hex(bytes), size: 1000 } });
      expect((await sut.put("acme", Readable.from([bytes]))).status).toBe(200);
      // Another tenant sending the same bytes earns its own first grant.
      expect((await sut.put("globex", Readable.from([bytes]))).status).toBe(201);
      expect(await sut.sizeOf("acme", sha256Hex(bytes))).toBe(1000);
    });

    it("should refuse a body over the limit with 413 and grant nothing", async () => {
      const bytes = randomBytes(64 * 1024 + 1);
      await expect(sut.put("acme", Readable.from([bytes]))).rejects.toMatchObject({ status: 413 });
      expect(await sut.sizeOf("acme", sha256Hex(bytes))).toBeUndefined();
    });
  });

  describe("sizeOf", () => {
    it("should hide a stored blob from a tenant it was not granted to", async () => {
      const sha = await env.blob("acme");
      expect(await sut.sizeOf("acme", sha)).toBe(32);
      expect(await sut.sizeOf("globex", sha)).toBeUndefined();
    });
  });

  describe("offerUpload", () => {
    it("should answer exists only for the tenant that holds the blob", async () => {
      const sha = await env.blob("acme");
      expect(await sut.offerUpload("acme", { sha256: sha, size: 32 })).toEqual({ exists: true, sha256: sha, size: 32 });
      const offer = await sut.offerUpload("globex", { sha256: sha, size: 32 });
      expect(offer).toMatchObject({ exists: false, complete: expect.stringMatching(/^\/v1\/blobs\/uploads\//) });
    });

    it("should refuse a declared size over 5 GiB with 400", async () => {
      await expect(sut.offerUpload("acme", { sha256: "a".repeat(64), size: 5 * 1024 ** 3 + 1 })).rejects.toMatchObject({
        status: 400,
        slug: "blob-too-large",
      });
    });
  });

  describe("completeUpload", () => {
    it("should grant presigned bytes that match their declared hash, once; another tenant's id finds nothing", async () => {
      const bytes = randomBytes(2048);
      const offer = await sut.offerUpload("acme", { sha256: sha256Hex(bytes), size: bytes.length });
      if (offer.exists) throw new Error("expected an upload offer");
      const put = await fetch(offer.url, { method: "PUT", body: new Uint8Array(bytes), headers: offer.headers });
      expect(put.status, await put.text()).toBe(200);

      await expect(sut.completeUpload("globex", offer.uploadId)).rejects.toMatchObject({ status: 404 });
      const done = await sut.completeUpload("acme", offer.uploadId);
      expect(done).toEqual({ status: 201, blob: { sha256: sha256Hex(bytes), size: bytes.length } });
      expect((await sut.completeUpload("acme", offer.uploadId)).status).toBe(200);
    });

    it("should answer 404 upload-missing when nothing was uploaded", async () => {
      const offer = await sut.offerUpload("acme", { sha256: "b".repeat(64), size: 10 });
      if (offer.exists) throw new Error("expected an upload offer");
      await expect(sut.completeUpload("acme", offer.uploadId)).rejects.toMatchObject({
        status: 404,
        slug: "upload-missing",
      });
    });
  });

  describe("faceTrack", () => {
    it("should answer 404 for a blob not granted, and for a granted video with no track yet", async () => {
      const sha = await env.blob("acme");
      await expect(sut.faceTrack("globex", sha, defaults)).rejects.toMatchObject({ status: 404 });
      await expect(sut.faceTrack("acme", sha, defaults)).rejects.toMatchObject({
        status: 404,
        detail: expect.stringMatching(/face track/),
      });
    });
  });
});
