import { randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { objectKeys, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiProcess, type Call, json, problemOf, startApiProcess } from "./api-process.ts";

/** What an answer says, without the parts that differ on every request (ids, signatures, times). */
async function shapeOf(res: Response): Promise<unknown> {
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  const redacted =
    body && typeof body === "object"
      ? Object.fromEntries(
          Object.entries(body).map(([k, v]) => [
            k,
            ["uploadId", "url", "expiresAt", "complete", "instance"].includes(k)
              ? typeof v
              : k === "headers"
                ? Object.keys(v as object).sort()
                : v,
          ]),
        )
      : body;
  return {
    status: res.status,
    type: res.headers.get("content-type")?.split(";")[0] ?? null,
    length: res.headers.get("content-length") && res.status === 200 ? "set" : null,
    body: redacted,
  };
}

const offer = (call: Call, sha256: string, size: number) => call("/v1/blobs/uploads", json({ sha256, size }));
const head = (call: Call, sha256: string) => call(`/v1/blobs/${sha256}`, { method: "HEAD" });
const put = (call: Call, bytes: Buffer) =>
  call("/v1/blobs", {
    method: "PUT",
    body: new Uint8Array(bytes),
    headers: { "content-type": "application/octet-stream" },
  });

describe("security: blobs are granted only to a tenant that sent the bytes", () => {
  let t: ApiProcess;
  beforeAll(async () => {
    t = await startApiProcess();
  });
  afterAll(async () => t?.stop());

  it("cross-tenant claim by hash: knowing a hash grants nothing, and a batch on it is refused", async () => {
    const video = randomBytes(4096);
    const sha256 = sha256Hex(video);
    expect((await put(t.acme, video)).status).toBe(201);

    // The Dropship move: globex offers only the hash.
    const claim = await offer(t.globex, sha256, video.length);
    expect(claim.status).toBe(201);
    const ticket = (await claim.json()) as { exists: boolean; complete: string };
    expect(ticket.exists).toBe(false);
    // Completing without uploading anything grants nothing either.
    const done = await problemOf(await t.globex(ticket.complete, { method: "POST" }));
    expect(done.status).toBe(404);
    expect((await head(t.globex, sha256)).status).toBe(404);

    // acme's own upload id is useless to globex (and globex cannot learn it anyway).
    const acmeTicket = (await (await offer(t.acme, sha256Hex(randomBytes(64)), 64)).json()) as { complete: string };
    expect((await problemOf(await t.globex(acmeTicket.complete, { method: "POST" }))).status).toBe(404);

    // Using the hash in a batch is refused as a blob globex never uploaded.
    const model = await t.globex("/v1/models?tag=m&adapter=wav2lip", {
      method: "POST",
      body: new Uint8Array(randomBytes(256)),
    });
    expect(model.status).toBe(201);
    const audio = randomBytes(512);
    expect((await put(t.globex, audio)).status).toBe(201);
    const batch = await problemOf(
      await t.globex(
        "/v1/batches",
        json({
          model: "m",
          items: [{ name: "x.mp4", inputs: { video: sha256, audio: sha256Hex(audio) } }],
          params: { box: [0, 0, 8, 8] },
        }),
      ),
    );
    expect(batch.status).toBe(400);
    expect(batch.detail).toContain(sha256);
    expect(batch.detail).not.toContain(sha256Hex(audio));
  });

  it("existence probing by offer, HEAD and PUT: the answers are the same whether another tenant holds the bytes or not", async () => {
    const held = randomBytes(2048); // acme has it
    const fresh = randomBytes(2048); // nobody has it
    expect((await put(t.acme, held)).status).toBe(201);

    const probes = async (bytes: Buffer) => ({
      offer: await shapeOf(await offer(t.globex, sha256Hex(bytes), bytes.length)),
      headBefore: await shapeOf(await head(t.globex, sha256Hex(bytes))),
      put: await shapeOf(await put(t.globex, bytes)),
      headAfter: await shapeOf(await head(t.globex, sha256Hex(bytes))),
    });
    const onHeld = await probes(held);
    const onFresh = await probes(fresh);
    // Bodies name the probed hash; compare with the hash taken out.
    const neutral = (p: unknown, bytes: Buffer) =>
      JSON.parse(JSON.stringify(p).replaceAll(sha256Hex(bytes), "<sha256>"));
    expect(neutral(onHeld, held)).toEqual(neutral(onFresh, fresh));
    expect(onHeld.offer).toMatchObject({ status: 201, body: { exists: false } });
    expect(onHeld.headBefore).toMatchObject({ status: 404 });
    expect(onHeld.put).toMatchObject({ status: 201 });
    expect(onHeld.headAfter).toMatchObject({ status: 200 });

    // Sending the bytes earned globex the blob; it is still stored once.
    const listed = await t.s3.send(
      new ListObjectsV2Command({ Bucket: t.infra.config.S3_BUCKET, Prefix: objectKeys.blob(sha256Hex(held)) }),
    );
    expect(listed.KeyCount).toBe(1);
    // The staging objects of both uploads are gone.
    const staging = await t.s3.send(new ListObjectsV2Command({ Bucket: t.infra.config.S3_BUCKET, Prefix: "tmp/" }));
    expect(staging.KeyCount ?? 0).toBe(0);
  });

  it("wrong bytes through a presigned PUT: the S3 server takes them, the API refuses to grant them", async () => {
    const real = randomBytes(8192);
    const sha256 = sha256Hex(real);
    expect((await put(t.acme, real)).status).toBe(201);

    // globex asks to upload acme's hash and sends other bytes of the same length.
    const ticket = (await (await offer(t.globex, sha256, real.length)).json()) as {
      url: string;
      headers: Record<string, string>;
      complete: string;
    };
    expect(ticket.headers["x-amz-checksum-sha256"]).toBe(Buffer.from(sha256, "hex").toString("base64"));
    const forged = randomBytes(real.length);
    const upload = await fetch(ticket.url, { method: "PUT", body: new Uint8Array(forged), headers: ticket.headers });
    // s3rver checks no checksum (S3 and MinIO answer 400 here): either way nothing may be granted.
    expect([200, 400]).toContain(upload.status);
    if (t.infra.s3) expect(upload.status, "the embedded s3rver is expected to take the forged bytes").toBe(200);
    const refused = await problemOf(await t.globex(ticket.complete, { method: "POST" }));
    expect(refused.status).toBe(upload.status === 200 ? 400 : 404);
    if (upload.status === 200) expect(refused.detail).toContain("do not match");
    expect((await head(t.globex, sha256)).status).toBe(404);

    // acme's blob is untouched: the presigned PUT never pointed at the content address.
    const stored = await t.s3.send(
      new GetObjectCommand({ Bucket: t.infra.config.S3_BUCKET, Key: objectKeys.blob(sha256) }),
    );
    expect(
      sha256Hex(
        Buffer.from(await (stored.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
      ),
    ).toBe(sha256);
    const staging = await t.s3.send(new ListObjectsV2Command({ Bucket: t.infra.config.S3_BUCKET, Prefix: "tmp/" }));
    expect(staging.KeyCount ?? 0).toBe(0);

    // The right bytes through the same kind of ticket are granted.
    const again = (await (await offer(t.globex, sha256, real.length)).json()) as {
      url: string;
      headers: Record<string, string>;
      complete: string;
    };
    expect((await fetch(again.url, { method: "PUT", body: new Uint8Array(real), headers: again.headers })).status).toBe(
      200,
    );
    expect((await t.globex(again.complete, { method: "POST" })).status).toBe(201);
    expect((await head(t.globex, sha256)).status).toBe(200);
  });
});
