import {
  assertNoEviction,
  checkSentinels,
  type Config,
  createInferenceQueue,
  createLogger,
  createPackageQueue,
  createRedis,
  createS3,
  ensureBucket,
  Ledger,
  ledgerOptionsFrom,
  repairOutbox,
  serveMetrics,
  untilReady,
} from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import { KeyRing } from "./api-keys.ts";
import { buildApp } from "./app.ts";
import type { ApiDeps, ApiOptions } from "./deps.ts";
import { startStagingSweeper } from "./staging-sweeper.ts";

export { type DigestCompare, KeyRing, sameSecret } from "./api-keys.ts";
export { buildApp } from "./app.ts";
export type { ApiDeps, ApiOptions } from "./deps.ts";

export interface RunningApi {
  app: FastifyInstance;
  /** http://host:port the server listens on. */
  url: string;
  deps: ApiDeps;
  /** Re-reads API_KEYS_FILE now (main.ts calls it on SIGHUP). */
  reloadKeys(): void;
  close(): Promise<void>;
}

/** Connects to Redis and S3, builds the app and listens on API_HOST:API_PORT. */
export async function startApi(config: Config, options?: ApiOptions): Promise<RunningApi> {
  const logger = createLogger("api", config);
  const keys = new KeyRing(config.API_KEYS, config.API_KEYS_FILE);
  if (keys.size === 0) logger.warn("API_KEYS is empty: every /v1 request will be refused (401)");
  // A ConfigError naming REDIS_SENTINELS / REDIS_SENTINEL_NAME when no Sentinel answers.
  const unreachable = await checkSentinels(config);
  if (unreachable.length > 0) logger.warn({ unreachable }, "REDIS_SENTINELS: some Sentinels did not answer");
  // The request path fails fast while Redis is away (a 503), rather than queueing commands.
  const redis = createRedis(config, "producer");
  // While Redis is away ioredis reports each failed reconnect; /readyz and the 503s say it.
  redis.on("error", (err) => logger.debug({ err: err.message }, "redis connection error"));
  const s3 = createS3(config);
  try {
    await untilReady(redis);
    const warning = await assertNoEviction(redis);
    if (warning) logger.warn(warning);
    await ensureBucket(s3, config.S3_BUCKET);
  } catch (err) {
    redis.disconnect();
    s3.destroy();
    throw err;
  }
  const deps: ApiDeps = {
    config,
    s3,
    ledger: new Ledger(redis, ledgerOptionsFrom(config)),
    inferenceQueue: createInferenceQueue(redis, config),
    packageQueue: createPackageQueue(redis, config),
    logger,
    keys,
    options,
  };
  for (const queue of [deps.inferenceQueue, deps.packageQueue])
    queue.on("error", (err) => logger.debug({ err: err.message }, "queue connection error"));
  const app = await buildApp(deps);
  const stopRepairs = repairOnReconnect(deps);
  const url = await app.listen({ host: config.API_HOST, port: config.API_PORT });
  logger.info({ url }, "api listening");
  const stopWatching = keys.watch(logger);
  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : await serveMetrics(app.metrics, config.METRICS_PORT, config.METRICS_HOST);
  const stagingSweeper = startStagingSweeper({
    s3,
    bucket: config.S3_BUCKET,
    logger,
    ttlSeconds: config.UPLOAD_STAGING_TTL_SECONDS,
  });
  return {
    app,
    url,
    deps,
    reloadKeys: () => keys.reloadLogged(logger, "SIGHUP"),
    async close() {
      stopRepairs();
      stopWatching();
      metricsServer?.close();
      await stagingSweeper.stop();
      await app.close();
      await Promise.all([deps.inferenceQueue.close(), deps.packageQueue.close()]);
      await redis.quit();
      s3.destroy();
    },
  };
}

/**
 * After Redis comes back (a restart or a failover that may have lost the last second of
 * writes), queue the outbox's entries at once instead of at the next submit, so the ledger and
 * the queues agree again (docs/architecture.md#redis-failover).
 */
function repairOnReconnect(deps: ApiDeps): () => void {
  const redis = deps.ledger.connection();
  let lostAt: number | undefined;
  const onClose = () => {
    lostAt ??= Date.now();
  };
  const onReady = () => {
    if (lostAt === undefined) return;
    lostAt = undefined;
    // Entries written before now: a writer still between its ledger and queue writes adds
    // the same job ids, which BullMQ does not add twice.
    repairOutbox(deps.ledger, deps.inferenceQueue, { olderThanMs: Date.now() }).then(
      (repaired) => deps.logger.warn({ repaired }, "Redis is back: queued the outbox's entries"),
      (err) => deps.logger.error({ err }, "outbox repair after reconnect failed; the next submit repairs it"),
    );
  };
  redis.on("close", onClose);
  redis.on("ready", onReady);
  return () => {
    redis.off("close", onClose);
    redis.off("ready", onReady);
  };
}
