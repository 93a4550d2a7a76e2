import { randomBytes } from "node:crypto";
import { createRedis, Ledger, PackageStore, sha256Hex } from "@mediaq/shared";
import type { Redis } from "ioredis";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { type ApiOptions, type RunningApi, startApi } from "../src/index.ts";

export type Call = (path: string, init?: RequestInit) => Promise<Response>;

export interface TestApi {
  infra: TestInfra;
  api: RunningApi;
  /** A separate connection and ledger, standing in for a worker or packager. */
  redis: Redis;
  ledger: Ledger;
  packages: PackageStore;
  /** fetch as tenant "acme" / "globex" / with no key. */
  acme: Call;
  globex: Call;
  anon: Call;
  stop(): Promise<void>;
}

/** Real Redis + S3 server, the API listening on a free port, two tenants. */
export async function startTestApi(options: ApiOptions = {}, env: Record<string, string> = {}): Promise<TestApi> {
  const infra = await startInfra({
    env: { API_KEYS: "acme:key-acme,globex:key-globex", API_HOST: "127.0.0.1", API_PORT: "0", ...env },
  });
  const api = await startApi(infra.config, { sseHeartbeatMs: 300, ...options });
  const redis = createRedis(infra.config);
  const as =
    (key?: string): Call =>
    (path, init = {}) =>
      fetch(api.url + path, {
        ...init,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) },
      });
  return {
    infra,
    api,
    redis,
    ledger: new Ledger(redis),
    packages: new PackageStore(redis),
    acme: as("key-acme"),
    globex: as("key-globex"),
    anon: as(),
    async stop() {
      await api.close();
      await redis.quit();
      await infra.stop();
    },
  };
}

export function randomBlob(size = 64): Buffer {
  return randomBytes(size);
}

/** Uploads bytes with PUT /v1/blobs; returns their sha256. */
export async function putBlob(call: Call, bytes: Buffer): Promise<string> {
  const res = await call("/v1/blobs", {
    method: "PUT",
    body: new Uint8Array(bytes),
    headers: { "content-type": "application/octet-stream" },
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`PUT /v1/blobs: ${res.status} ${await res.text()}`);
  const { sha256 } = (await res.json()) as { sha256: string };
  if (sha256 !== sha256Hex(bytes)) throw new Error("PUT /v1/blobs answered another hash");
  return sha256;
}

export async function uploadModel(call: Call, tag: string, bytes = randomBlob(128)): Promise<string> {
  const res = await call(`/v1/models?tag=${encodeURIComponent(tag)}&adapter=wav2lip`, {
    method: "POST",
    body: new Uint8Array(bytes),
    headers: { "content-type": "application/octet-stream" },
  });
  if (res.status !== 201) throw new Error(`POST /v1/models: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { sha256: string }).sha256;
}

/** n items with freshly uploaded inputs. */
export async function makeItems(call: Call, n: number, prefix = "item") {
  const items = [];
  for (let i = 0; i < n; i++) {
    const [video, audio] = await Promise.all([putBlob(call, randomBlob()), putBlob(call, randomBlob())]);
    items.push({ name: `${prefix}-${i}.mp4`, inputs: { video, audio } });
  }
  return items;
}

export function postJson(call: Call, path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [k: string]: unknown;
}

/** Asserts the response is problem+json and returns it. */
export async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json"))
    throw new Error(`expected problem+json, got "${type}" (${res.status})`);
  const body = (await res.json()) as Problem;
  if (body.status !== res.status) throw new Error(`problem status ${body.status} != HTTP ${res.status}`);
  return body;
}
