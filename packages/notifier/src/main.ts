import {
  assertNoEviction,
  createRebuildCounter,
  createRedis,
  keepConnected,
  loadServiceConfig,
  serveMetrics,
} from "@mediaq/shared";
import { startNotifier } from "./index.ts";

// Entry point of the notifier service: signed webhook deliveries (docs/architecture.md#webhooks).
const { config, log: logger } = await loadServiceConfig("notifier");

const redis = createRedis(config);
const warning = await assertNoEviction(redis);
if (warning) logger.warn(warning);
await redis.quit();
if (config.WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS) logger.warn("WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS is on: test only");

const redisRebuilds = createRebuildCounter();
// Rebuilt (connections, BullMQ worker, event reader) when Redis stays away too long
// (docs/architecture.md#redis-failover).
const notifier = await keepConnected(async () => startNotifier(config, { logger, redisRebuilds }), {
  boundMs: config.REDIS_RECOVERY_SECONDS * 1000,
  log: logger,
  rebuilds: redisRebuilds,
});
const metricsServer =
  config.METRICS_PORT !== undefined
    ? await serveMetrics(() => notifier.current().metrics.registry, config.METRICS_PORT, config.METRICS_HOST)
    : undefined;
logger.info("notifier started");

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "draining: finishing running deliveries");
  await notifier.close();
  metricsServer?.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
