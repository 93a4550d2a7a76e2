import http from "node:http";
import type { AddressInfo } from "node:net";
import { getObjectStream, objectKeys, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { type RunningApi, startApi } from "../src/index.ts";
import { randomBlob } from "./helpers.ts";

/**
 * A loopback HTTP proxy in front of the real S3 server. Every request goes through as it
 * came (headers, signature and body untouched); `beforeForward` may run first, so a test
 * places a client's request exactly between two of the API's S3 calls.
 */
async function startInterposer(target: string, beforeForward: (req: http.IncomingMessage) => Promise<void>) {
  const to = new URL(target);
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      await beforeForward(req);
    } catch (err) {
      res.writeHead(502).end(String(err));
      return;
    }
    const out = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on("error", (err) => res.writeHead(502).end(String(err)));
    out.end(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Issue 21, failure 1: the presigned PUT can be replayed until it expires. Bytes PUT again
 * after the API hashed the staged object, just before it copies it to blobs/sha256/<H>,
 * must not end up under H (docs/architecture.md#blob-grants).
 */
describe("a presigned upload replayed between the hash check and the copy", () => {
  let infra: TestInfra;
  let api: RunningApi;
  let interposer: Awaited<ReturnType<typeof startInterposer>>;
  /** Runs once, before the first CopyObject whose destination key contains `before`. */
  let replay: { before: string; run: () => Promise<void> } | undefined;

  beforeAll(async () => {
    infra = await startInfra({ env: { API_KEYS: "acme:key-acme", API_HOST: "127.0.0.1", API_PORT: "0" } });
    interposer = await startInterposer(infra.config.S3_ENDPOINT as string, async (req) => {
      const copy = req.method === "PUT" && req.headers["x-amz-copy-source"] !== undefined;
      if (copy && replay && req.url?.includes(replay.before)) {
        const { run } = replay;
        replay = undefined;
        await run();
      }
    });
    api = await startApi({ ...infra.config, S3_ENDPOINT: interposer.url });
  });
  afterAll(async () => {
    await api?.close();
    await interposer?.close();
    await infra?.stop();
  });

  const call = (path: string, init: RequestInit = {}) =>
    fetch(api.url + path, { ...init, headers: { authorization: "Bearer key-acme", ...init.headers } });

  /** Offers a presigned upload of `genuine`, PUTs it, and arms a replay of other bytes before a copy to `before`. */
  async function uploadThenReplay(genuine: Buffer, before: string) {
    const other = randomBlob(genuine.length);
    const sha256 = sha256Hex(genuine);
    const offer = (await (
      await call("/v1/blobs/uploads", {
        method: "POST",
        body: JSON.stringify({ sha256, size: genuine.length }),
        headers: { "content-type": "application/json" },
      })
    ).json()) as { url: string; headers: Record<string, string>; complete: string };
    const put = (bytes: Buffer) =>
      fetch(offer.url, { method: "PUT", body: new Uint8Array(bytes), headers: offer.headers });
    expect((await put(genuine)).status).toBe(200);
    const state = { replayed: 0 };
    replay = {
      before,
      // The same presigned URL, other bytes of the same length (the embedded S3 server does
      // not check the signed checksum).
      run: async () => {
        const res = await put(other);
        await res.arrayBuffer();
        if (res.status === 200) state.replayed++;
      },
    };
    return { sha256, complete: () => call(offer.complete, { method: "POST" }), state };
  }

  async function stored(sha256: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await getObjectStream(api.deps.s3, infra.config.S3_BUCKET, objectKeys.blob(sha256)))
      chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  it("stores the bytes that were hashed: complete answers 201 and blobs/sha256/<H> hashes to H", async () => {
    const { sha256, complete, state } = await uploadThenReplay(randomBlob(64 * 1024), "/blobs/sha256/");
    const done = await complete();
    expect(state.replayed, "the replayed PUT was placed between the check and the copy").toBe(1);
    expect(done.status).toBe(201);
    expect(sha256Hex(await stored(sha256))).toBe(sha256);
  });

  it("other bytes replayed before the API's first copy are refused (400), and nothing is stored under H", async () => {
    const { sha256, complete, state } = await uploadThenReplay(randomBlob(64 * 1024), "/");
    const done = await complete();
    expect(state.replayed).toBe(1);
    expect(done.status).toBe(400);
    expect(((await done.json()) as { type: string }).type).toMatch(/upload-mismatch/);
    expect((await call(`/v1/blobs/${sha256}`, { method: "HEAD" })).status).toBe(404);
    await expect(stored(sha256)).rejects.toThrow();
  });
});
