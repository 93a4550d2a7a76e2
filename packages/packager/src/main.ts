import {
  assertNoEviction,
  createRebuildCounter,
  createRedis,
  createS3,
  keepConnected,
  loadServiceConfig,
  scheduleSnapshots,
  serveMetrics,
  startSnapshotWorker,
} from "@mediaq/shared";
import { startPackager } from "./index.ts";

// Entry point of the packager service: build queued packages, sweep expired ones, and take
// the scheduled ledger snapshots (the packager is the service that already writes to S3 in
// the background).
const { config, log: logger } = await loadServiceConfig("packager");

const redis = createRedis(config);
const warning = await assertNoEviction(redis);
if (warning) logger.warn(warning);

const redisRebuilds = createRebuildCounter();
// Rebuilt (connections, BullMQ workers) when Redis stays away too long (docs/architecture.md#redis-failover).
const packager = await keepConnected(async () => startPackager(config, { logger, redisRebuilds }), {
  boundMs: config.REDIS_RECOVERY_SECONDS * 1000,
  log: logger,
  rebuilds: redisRebuilds,
});
const s3 = createS3(config);
const snapshots = startSnapshotWorker(redis, { redis, s3, config, logger }, config);
const schedule = await scheduleSnapshots(redis, config, config);
const metricsServer =
  config.METRICS_PORT !== undefined
    ? await serveMetrics(() => packager.current().metrics, config.METRICS_PORT, config.METRICS_HOST)
    : undefined;
logger.info({ snapshots: schedule.enabled ? `every ${config.SNAPSHOT_EVERY_SECONDS} s` : "off" }, "packager started");

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "draining: finishing running packages, taking no new ones");
  await Promise.all([packager.close(), snapshots.close()]);
  metricsServer?.close();
  s3.destroy();
  await redis.quit();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
