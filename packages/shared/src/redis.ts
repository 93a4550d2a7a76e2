import { Redis } from "ioredis";
import type { Config } from "./config.ts";

/** A connection usable by BullMQ workers (blocking commands need maxRetriesPerRequest null). */
export function createRedis(config: Pick<Config, "REDIS_URL">): Redis {
  return new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/**
 * Refuses a Redis that may evict keys: the ledger and the queues would silently lose
 * work. Some managed Redis forbid CONFIG; then the check is skipped with a warning.
 */
export async function assertNoEviction(redis: Redis): Promise<string | undefined> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
    policy = reply[1];
  } catch {
    return "could not read maxmemory-policy (CONFIG disabled); make sure it is noeviction";
  }
  if (policy && policy !== "noeviction") {
    throw new Error(
      `Redis maxmemory-policy is "${policy}": mediaq needs "noeviction" or queued work can be lost. ` +
        "Set it with: CONFIG SET maxmemory-policy noeviction (and in redis.conf).",
    );
  }
  return undefined;
}
