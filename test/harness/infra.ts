import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type EmbeddedRedis, type EmbeddedS3, startRedis, startS3 } from "@mediaq/cli/embedded";
import { type Config, loadConfig } from "@mediaq/shared";
import { containerEngineAnswers, startContainers } from "./containers.ts";

/**
 * Real Redis and a real S3 API server for integration tests, torn down by stop():
 * - TEST_REDIS_URL / TEST_S3_ENDPOINT (+ S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY): servers of your own;
 * - else, when a container engine answers: Redis and MinIO containers (testcontainers);
 * - else: redis-server and s3rver as child processes on free ports under a temporary directory.
 * Tests that kill or restart Redis start their own with startRedis instead.
 */
export interface TestInfra {
  dir: string;
  redis?: EmbeddedRedis;
  s3?: EmbeddedS3;
  /** Environment pointing services at this infra (also CACHE_ROOT under dir). */
  env: Record<string, string>;
  config: Config;
  stop(): Promise<void>;
}

export async function startInfra(opts: { bucket?: string; env?: Record<string, string> } = {}): Promise<TestInfra> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-test-"));
  const bucket = opts.bucket ?? "mediaq-test";
  const external = process.env.TEST_REDIS_URL || process.env.TEST_S3_ENDPOINT;
  if (!external && (await containerEngineAnswers())) {
    const containers = await startContainers(bucket);
    const env = { ...containers.env, ...commonEnv(dir), ...opts.env };
    return {
      dir,
      env,
      config: loadConfig(env),
      async stop() {
        await containers.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const redis = process.env.TEST_REDIS_URL ? undefined : await startRedis({ dataDir: path.join(dir, "redis") });
  const s3 = process.env.TEST_S3_ENDPOINT ? undefined : await startS3({ dataDir: path.join(dir, "s3"), bucket });
  const env: Record<string, string> = {
    REDIS_URL: process.env.TEST_REDIS_URL ?? (redis as EmbeddedRedis).url,
    ...(s3
      ? s3.env
      : {
          S3_ENDPOINT: process.env.TEST_S3_ENDPOINT as string,
          S3_BUCKET: bucket,
          S3_FORCE_PATH_STYLE: "true",
          S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID ?? "",
          S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY ?? "",
        }),
    ...commonEnv(dir),
    ...opts.env,
  };
  return {
    dir,
    redis,
    s3,
    env,
    config: loadConfig(env),
    async stop() {
      await Promise.all([redis?.stop(), s3?.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function commonEnv(dir: string): Record<string, string> {
  return { CACHE_ROOT: path.join(dir, "cache"), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn", JOB_ATTEMPTS: "2" };
}
