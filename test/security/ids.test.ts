import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { PackageStore, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiProcess, json, KEY_B, startApiProcess } from "./api-process.ts";

interface RawAnswer {
  status: number;
  type: string;
  body: string;
}

/** One request with the path sent exactly as written (fetch would resolve "..", "%2e" and the like). */
function raw(port: number, method: string, path: string, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        headers: {
          authorization: `Bearer ${KEY_B}`,
          ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body: text }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Every route that takes an id, with the body it needs (the trick is in the id, not the body). */
const ROUTES: { method: string; path: (id: string) => string; body?: string }[] = [
  { method: "HEAD", path: (id) => `/v1/blobs/${id}` },
  { method: "POST", path: (id) => `/v1/blobs/uploads/${id}` },
  { method: "GET", path: (id) => `/v1/batches/${id}` },
  { method: "DELETE", path: (id) => `/v1/batches/${id}` },
  { method: "GET", path: (id) => `/v1/batches/${id}/items` },
  {
    method: "POST",
    path: (id) => `/v1/batches/${id}/items`,
    body: JSON.stringify({ items: [{ name: "n.mp4", inputs: { video: "a".repeat(64), audio: "b".repeat(64) } }] }),
  },
  { method: "POST", path: (id) => `/v1/batches/${id}/retry` },
  { method: "GET", path: (id) => `/v1/batches/${id}/events` },
  { method: "POST", path: (id) => `/v1/batches/${id}/packages`, body: "{}" },
  { method: "GET", path: (id) => `/v1/packages/${id}` },
];

const TRICKS = [
  "..",
  "../../../etc/passwd",
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "..%5C..%5Cwindows",
  "a%2Fb",
  "%00",
  "abc%00def",
  "%ZZ",
  "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
  "x".repeat(201),
  "x".repeat(8000),
  "*",
  "mediaq:batch:*",
];

describe("security: path and name tricks on every id parameter", () => {
  let t: ApiProcess;
  /** acme's real ids: globex must get the same 404 as for ids that do not exist. */
  const acme: Record<string, string> = {};

  beforeAll(async () => {
    t = await startApiProcess();
    const put = async (bytes: Buffer) => {
      const res = await t.acme("/v1/blobs", { method: "PUT", body: new Uint8Array(bytes) });
      return ((await res.json()) as { sha256: string }).sha256;
    };
    const [video, audio] = [await put(randomBytes(1024)), await put(randomBytes(1024))];
    acme.blob = video;
    await t.acme("/v1/models?tag=m&adapter=wav2lip", { method: "POST", body: new Uint8Array(randomBytes(256)) });
    const batch = await t.acme(
      "/v1/batches",
      json({ model: "m", items: [{ name: "a.mp4", inputs: { video, audio } }], params: { box: [0, 0, 8, 8] } }),
    );
    expect(batch.status).toBe(201);
    acme.batch = ((await batch.json()) as { id: string }).id;
    const offer = await t.acme("/v1/blobs/uploads", json({ sha256: sha256Hex("pending"), size: 7 }));
    acme.upload = ((await offer.json()) as { uploadId: string }).uploadId;
    // A package of acme's, written as the API would (no worker runs in this test).
    const now = Date.now();
    acme.package = "p".repeat(64);
    await new PackageStore(t.redis).request({
      id: acme.package,
      tenant: "acme",
      batchId: acme.batch,
      partSize: 1024 ** 3,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
      state: "ready",
      parts: [],
    });
  });
  afterAll(async () => t?.stop());

  it("answers every trick with 400 or 404 problem+json: never a 500, never another tenant's data", async () => {
    const seen: string[] = [];
    for (const route of ROUTES) {
      for (const id of [...TRICKS, acme.blob, acme.batch, acme.upload, acme.package] as string[]) {
        const res = await raw(t.port, route.method, route.path(id), route.body);
        const what = `${route.method} ${route.path(id).slice(0, 80)} -> ${res.status} ${res.body.slice(0, 120)}`;
        seen.push(what);
        expect([400, 404], what).toContain(res.status);
        expect(res.type, what).toContain("application/problem+json");
        if (route.method !== "HEAD") {
          const problem = JSON.parse(res.body) as { status: number; detail: string };
          expect(problem.status, what).toBe(res.status);
          expect(res.body, what).not.toMatch(/acme|\/etc\/passwd:|root:|at .*\.ts:\d+/);
        }
      }
    }
    // acme's own ids are 404 to globex, exactly as ids that never existed.
    for (const route of ROUTES) {
      for (const id of [acme.batch, acme.package, acme.upload, acme.blob] as string[]) {
        const res = await raw(t.port, route.method, route.path(id), route.body);
        if ([400].includes(res.status)) continue; // the id does not fit this route's pattern
        expect(res.status, `${route.method} ${route.path(id)}`).toBe(404);
      }
    }
    expect(seen.length).toBe(ROUTES.length * (TRICKS.length + 4));
    // Nothing of acme's was touched by globex's attempts.
    const mine = (await (await t.acme(`/v1/batches/${acme.batch}`)).json()) as { total: number; cancelled: number };
    expect(mine).toMatchObject({ total: 1, cancelled: 0 });
    expect((await t.acme(`/v1/packages/${acme.package}`)).status).toBe(200);
    expect((await t.acme(`/v1/blobs/${acme.blob}`, { method: "HEAD" })).status).toBe(200);
    // No request failed inside the server (pino level 50 = error).
    expect(fs.readFileSync(t.logFile, "utf8")).not.toContain('"level":50');
  });
});
