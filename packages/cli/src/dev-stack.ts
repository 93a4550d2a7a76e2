import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseApiKeys } from "@mediaq/shared";
import { ApiClient } from "./api-client.ts";
import { formatEnvFile } from "./env-file.ts";
import type { RegisterModelData } from "./generated-client/types.gen.ts";
import {
  type EmbeddedRedis,
  type EmbeddedS3,
  freePort,
  type Managed,
  spawnManaged,
  startRedis,
  startS3,
} from "./embedded/index.ts";
import { type Supervisor, superviseWorkers } from "./supervisor.ts";

export type ServiceName = "api" | "worker" | "packager" | "notifier";

/** Path of a service's entry point (its main.ts); the CLI runs services, it never imports them. */
export function serviceEntry(service: ServiceName): string {
  return fileURLToPath(import.meta.resolve(`@mediaq/${service}/main`));
}

/** Path of the generated demo model shipped with the worker package. */
export function demoModelPath(): string {
  return createRequire(import.meta.url).resolve("@mediaq/worker/models/demo-wav2lip.onnx");
}

/** Paths of the demo voice shipped with the worker package (a Piper voice built in code) and its config. */
export function demoVoicePaths(): { model: string; config: string } {
  const require = createRequire(import.meta.url);
  return {
    model: require.resolve("@mediaq/worker/models/demo-piper.onnx"),
    config: require.resolve("@mediaq/worker/models/demo-piper.onnx.json"),
  };
}

/** Paths of the demo face-swap pair shipped with the worker package (scripts/face-swap-models.ts writes them). */
export function demoSwapModelPaths(): { swapper: string; recognizer: string } {
  const require = createRequire(import.meta.url);
  return {
    swapper: require.resolve("@mediaq/worker/models/demo-inswapper.onnx"),
    recognizer: require.resolve("@mediaq/worker/models/demo-arcface.onnx"),
  };
}

/** How the demo model asks to be registered (its adapter and channel order), shipped beside it. */
export function demoModelRegistration(): Pick<RegisterModelData["query"], "adapter" | "channels"> {
  const file = createRequire(import.meta.url).resolve("@mediaq/worker/models/demo-wav2lip.json");
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** Starts a service entry (a main.ts, run by Node itself) as a child Node process. */
export function spawnService(
  service: ServiceName,
  env: Record<string, string>,
  output: "inherit" | { logFile: string },
): Managed {
  const stdio =
    output === "inherit" ? "inherit" : ["ignore", fs.openSync(output.logFile, "a"), fs.openSync(output.logFile, "a")];
  return spawnManaged(process.execPath, [serviceEntry(service)], {
    env: { ...process.env, ...env },
    stdio: stdio as never,
  });
}

export interface DevStackOptions {
  dataDir: string;
  /** API port; 0 picks a free one. */
  port?: number;
  /** `tenant:key,...`; a key for tenant "dev" is generated (and kept in dataDir) when empty. */
  apiKeys?: string;
  /** Service logs on this terminal (mediaq dev) or in dataDir/logs/<service>.log (worker-0.log). */
  logs?: "inherit" | "files";
  /** Extra environment for the services (e.g. JOB_ATTEMPTS). */
  env?: Record<string, string>;
  /** Register the demo model under the tag "demo" (default true). */
  registerDemoModel?: boolean;
}

export interface DevStack {
  apiUrl: string;
  apiKey: string;
  tenant: string;
  redis: EmbeddedRedis;
  s3: EmbeddedS3;
  /** The environment every service got: point other tools at the same stack with it. */
  env: Record<string, string>;
  /** What other commands need to use this stack (API, Redis, S3), also written to envFile. */
  connection: Record<string, string>;
  /** <dataDir>/env: `mediaq --env <it> <command>`, or source it in a shell; deleted at stop. */
  envFile: string;
  /** The API, packager and notifier; the worker's current process is `workers.children()`. */
  services: Record<Exclude<ServiceName, "worker">, Managed>;
  /** The worker, supervised as by `mediaq worker`: restarted when it dies, its jobs handed back at once. */
  workers: Supervisor;
  client: ApiClient;
  /** Restarts one service (e.g. after a fault test killed it). */
  restart(service: Exclude<ServiceName, "worker">): Promise<Managed>;
  stop(): Promise<void>;
}

/**
 * The embedded stack of `mediaq dev`: a redis-server and an S3-compatible server with
 * their data under dataDir, then the API, one supervised worker, the packager and the notifier
 * (webhooks) as child processes.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const dataDir = path.resolve(opts.dataDir);
  const logDir = path.join(dataDir, "logs");
  fs.mkdirSync(logDir, { recursive: true });
  const apiKeys = opts.apiKeys || devApiKeys(dataDir);
  // The stack drives its own API (demo model, the client it returns), so it needs one key in plain text.
  const plain = parseApiKeys(apiKeys).find((e) => e.key !== undefined);
  if (!plain?.key)
    throw new Error("mediaq dev needs one API_KEYS entry with a plain key (tenant:key) to drive its stack");
  const { key: apiKey, tenant } = plain;

  const redis = await startRedis({ dataDir: path.join(dataDir, "redis") });
  let s3: EmbeddedS3 | undefined;
  const started: Partial<Record<ServiceName, Managed>> = {};
  let workers: Supervisor | undefined;
  const envFile = path.join(dataDir, "env");
  const stopAll = async () => {
    fs.rmSync(envFile, { force: true });
    await Promise.all([...Object.values(started).map((s) => s?.stop()), workers?.stop()]);
    await Promise.all([s3?.stop(), redis.stop()]);
  };
  try {
    s3 = await startS3({ dataDir: path.join(dataDir, "s3"), bucket: "mediaq" });
    const port = opts.port || (await freePort());
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      ...s3.env,
      CACHE_ROOT: path.join(dataDir, "cache"),
      API_HOST: "127.0.0.1",
      API_PORT: String(port),
      API_KEYS: apiKeys,
      ...opts.env,
    };
    const spawn = (service: Exclude<ServiceName, "worker">) => {
      started[service] = spawnService(
        service,
        env,
        opts.logs === "inherit" ? "inherit" : { logFile: path.join(logDir, `${service}.log`) },
      );
      return started[service] as Managed;
    };
    for (const service of ["api", "packager", "notifier"] as const) spawn(service);
    workers = superviseWorkers({
      cards: [0],
      env,
      ...(opts.logs === "inherit" ? {} : { logDir }),
      log: (line) => console.error(`mediaq dev: ${line}`),
    });
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitForReady(apiUrl, started.api as Managed, logDir);
    const client = new ApiClient(apiUrl, apiKey);
    if (opts.registerDemoModel !== false) {
      const { adapter, channels } = demoModelRegistration();
      await client.putModelFile(demoModelPath(), { tag: "demo", adapter, channels });
    }
    const connection = connectionEnv(env, apiUrl, apiKey);
    // It holds the API key and the S3 secret: readable by this user only.
    fs.writeFileSync(
      envFile,
      formatEnvFile(connection, [
        `mediaq dev (pid ${process.pid}): the environment other commands need to use this stack.`,
        `mediaq --env ${envFile} snapshot create | reindex | worker | status <batch> ...`,
        "or in a shell: . <this file>",
      ]),
      { mode: 0o600 },
    );
    return {
      apiUrl,
      apiKey,
      tenant,
      redis,
      s3,
      env,
      connection,
      envFile,
      services: started as DevStack["services"],
      workers,
      client,
      async restart(service) {
        await started[service]?.stop();
        return spawn(service);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The stack's Redis, queue and S3 settings, with the API's address and key for the API commands. */
function connectionEnv(env: Record<string, string>, apiUrl: string, apiKey: string): Record<string, string> {
  const shared = Object.entries(env).filter(
    ([key]) => key.startsWith("S3_") || ["REDIS_URL", "QUEUE_PREFIX", "DEDUP_SCOPE"].includes(key),
  );
  return { MEDIAQ_API_URL: apiUrl, MEDIAQ_API_KEY: apiKey, ...Object.fromEntries(shared) };
}

function devApiKeys(dataDir: string): string {
  const file = path.join(dataDir, "dev-api-key");
  if (!fs.existsSync(file)) fs.writeFileSync(file, `mq_dev_${randomBytes(16).toString("hex")}\n`, { mode: 0o600 });
  return `dev:${fs.readFileSync(file, "utf8").trim()}`;
}

async function waitForReady(apiUrl: string, api: Managed, logDir: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api.child.exitCode !== null) {
      throw new Error(`the API exited with code ${api.child.exitCode}; see ${path.join(logDir, "api.log")}`);
    }
    try {
      if ((await fetch(`${apiUrl}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the API was not ready within ${timeoutMs / 1000} s; see ${path.join(logDir, "api.log")}`);
}
