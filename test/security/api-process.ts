import fs from "node:fs";
import path from "node:path";
import { type Managed, freePort } from "@mediaq/cli/embedded";
import { spawnService } from "@mediaq/cli/dev-stack";
import type { S3Client } from "@aws-sdk/client-s3";
import { createRedis, createS3 } from "@mediaq/shared";
import { START_TIMEOUT_MS } from "../harness/entry.ts";
import { startInfra, type TestInfra } from "../harness/infra.ts";

export const KEY_A = "key-acme-0123456789abcdef";
export const KEY_B = "key-globex-0123456789abcdef";

export type Call = (path: string, init?: RequestInit) => Promise<Response>;

/** The API as its own process (`mediaq api`) over a real redis-server and S3 server. */
export interface ApiProcess {
  infra: TestInfra;
  api: Managed;
  url: string;
  port: number;
  env: Record<string, string>;
  logFile: string;
  /** fetch as tenant "acme" / "globex" / with no key. */
  acme: Call;
  globex: Call;
  anon: Call;
  /** Direct clients for checks behind the API's back. */
  s3: S3Client;
  redis: ReturnType<typeof createRedis>;
  stop(): Promise<void>;
}

export async function startApiProcess(env: Record<string, string> = {}): Promise<ApiProcess> {
  const infra = await startInfra();
  const port = await freePort();
  const logFile = path.join(infra.dir, "api.log");
  const fullEnv = {
    ...infra.env,
    API_HOST: "127.0.0.1",
    API_PORT: String(port),
    API_KEYS: `acme:${KEY_A},globex:${KEY_B}`,
    LOG_LEVEL: "info",
    ...env,
  };
  const api = spawnService("api", fullEnv, { logFile });
  const url = `http://127.0.0.1:${port}`;
  const s3 = createS3(infra.config);
  const redis = createRedis(infra.config);
  const stop = async () => {
    await api.stop();
    s3.destroy();
    await redis.quit();
    await infra.stop();
  };
  try {
    await waitReady(url, api, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  const as =
    (key?: string): Call =>
    (p, init = {}) =>
      fetch(url + p, {
        ...init,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) },
      });
  return {
    infra,
    api,
    url,
    port,
    env: fullEnv,
    logFile,
    acme: as(KEY_A),
    globex: as(KEY_B),
    anon: as(),
    s3,
    redis,
    stop,
  };
}

async function waitReady(url: string, api: Managed, logFile: string): Promise<void> {
  for (const until = Date.now() + START_TIMEOUT_MS; Date.now() < until; ) {
    if (api.child.exitCode !== null)
      throw new Error(`the API exited (${api.child.exitCode}):\n${fs.readFileSync(logFile, "utf8")}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the API did not answer within ${START_TIMEOUT_MS} ms`);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/** The body of a problem+json answer; fails when the answer is anything else. */
export async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  if (!type.startsWith("application/problem+json"))
    throw new Error(`expected application/problem+json, got ${res.status} ${type}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as Problem;
}

export const json = (body: unknown): RequestInit => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" },
});
