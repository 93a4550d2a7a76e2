import { assertNoEviction, createLogger, createRedis, loadConfig, serveMetrics } from "@mediaq/shared";
import { startNotifier } from "./index.ts";

// Entry point of the notifier service: signed webhook deliveries (docs/architecture.md#webhooks).
const config = loadConfig();
const logger = createLogger("notifier", config);

const redis = createRedis(config);
const warning = await assertNoEviction(redis);
if (warning) logger.warn(warning);
await redis.quit();
if (config.WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS) logger.warn("WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS is on: test only");

const notifier = startNotifier(config, { logger });
const metricsServer =
  config.METRICS_PORT !== undefined
    ? await serveMetrics(notifier.metrics.registry, config.METRICS_PORT, config.METRICS_HOST)
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
