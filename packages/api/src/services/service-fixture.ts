import { randomBytes } from "node:crypto";
import {
  createInferenceQueue,
  createLogger,
  createPackageQueue,
  createRedis,
  createS3,
  ensureBucket,
  Ledger,
  objectKeys,
  putStream,
  sha256Hex,
} from "@mediaq/shared";
import { startInfra } from "../../../../test/harness/infra.ts";
import { KeyRing } from "../api-keys.ts";
import type { ApiDeps } from "../deps.ts";

/** The API's dependencies over a real Redis and S3 server, for the service specs. */
export async function serviceDeps(env: Record<string, string> = {}) {
  const infra = await startInfra({ env });
  const redis = createRedis(infra.config);
  const s3 = createS3(infra.config);
  await ensureBucket(s3, infra.config.S3_BUCKET);
  const deps: ApiDeps = {
    config: infra.config,
    s3,
    ledger: new Ledger(redis, { idempotencyTtlSeconds: infra.config.IDEMPOTENCY_TTL_SECONDS }),
    inferenceQueue: createInferenceQueue(redis, infra.config),
    packageQueue: createPackageQueue(redis, infra.config),
    logger: createLogger("api", { ...infra.config, LOG_LEVEL: "silent" }),
    keys: new KeyRing(""),
  };
  /** A blob in S3, granted to the tenant as an upload through the API would. */
  const blob = async (tenant: string) => {
    const bytes = randomBytes(32);
    const sha = sha256Hex(bytes);
    await putStream(s3, { bucket: infra.config.S3_BUCKET, key: objectKeys.blob(sha), body: bytes });
    await deps.ledger.assets.grantBlob(tenant, sha);
    return sha;
  };
  return {
    deps,
    redis,
    blob,
    async stop() {
      await Promise.all([deps.inferenceQueue.close(), deps.packageQueue.close()]);
      redis.disconnect();
      s3.destroy();
      await infra.stop();
    },
  };
}
