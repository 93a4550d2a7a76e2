import { type Config, ConfigError, loadConfig } from "./config.ts";
import { createLogger, type Logger } from "./logger.ts";
import { checkSentinels } from "./redis.ts";

/**
 * A service's start: the configuration, then the Redis settings only the network can check
 * (REDIS_SENTINELS answer and know REDIS_SENTINEL_NAME). A ConfigError is printed, naming the
 * setting, and the process exits 1.
 */
export async function loadServiceConfig(service: string): Promise<{ config: Config; log: Logger }> {
  try {
    const config = loadConfig();
    const log = createLogger(service, config);
    const unreachable = await checkSentinels(config);
    if (unreachable.length > 0) log.warn({ unreachable }, "REDIS_SENTINELS: some Sentinels did not answer");
    return { config, log };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
