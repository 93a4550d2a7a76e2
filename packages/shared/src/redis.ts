import fs from "node:fs";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import { type Config, ConfigError } from "./config.ts";

/** The settings a connection is built from (docs/architecture.md#redis-failover). */
export type RedisSettings = Pick<Config, "REDIS_URL"> &
  Partial<
    Pick<
      Config,
      | "REDIS_SENTINELS"
      | "REDIS_SENTINEL_NAME"
      | "REDIS_SENTINEL_PASSWORD"
      | "REDIS_USERNAME"
      | "REDIS_PASSWORD"
      | "REDIS_TLS"
      | "REDIS_TLS_CA_FILE"
      | "REDIS_TLS_CERT_FILE"
      | "REDIS_TLS_KEY_FILE"
    >
  >;

/**
 * What a connection is for, as BullMQ's "going to production" guide asks:
 * - `worker`: BullMQ workers, event readers and the background services' ledger. Commands
 *   wait through a reconnect (offline queue on, `maxRetriesPerRequest: null`, which blocking
 *   commands need): a failover delays their work, it does not fail it.
 * - `producer`: the API's request path. Commands fail at once while Redis is away
 *   (`enableOfflineQueue: false`), so a request gets a 503 instead of hanging.
 */
export type RedisRole = "worker" | "producer";

/** What each role sets; a connection duplicated for another role takes that role's (e.g. an event reader). */
export const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  worker: { maxRetriesPerRequest: null, enableOfflineQueue: true },
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
};

export const usesSentinels = (c: RedisSettings): boolean => Boolean(c.REDIS_SENTINELS?.length);

/** TLS options from the CA / certificate / key files (read now: a missing one was refused by loadConfig). */
function tlsOptions(c: RedisSettings): TlsOptions {
  const read = (file: string | undefined) => (file ? fs.readFileSync(file) : undefined);
  const tls: TlsOptions = {};
  const ca = read(c.REDIS_TLS_CA_FILE);
  const cert = read(c.REDIS_TLS_CERT_FILE);
  const key = read(c.REDIS_TLS_KEY_FILE);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

/** The ioredis options of every mediaq connection: REDIS_SENTINELS first, else REDIS_URL. */
export function redisOptions(c: RedisSettings, role: RedisRole): RedisOptions {
  const common: RedisOptions = {
    ...ROLE_OPTIONS[role],
    enableReadyCheck: true,
    // A client that reached a replica (an old primary back after a failover) reconnects and
    // sends the command again: it was refused, so nothing ran twice.
    reconnectOnError: (err) => (err.message.startsWith("READONLY") ? 2 : false),
  };
  if (usesSentinels(c)) {
    const tls = c.REDIS_TLS ? tlsOptions(c) : undefined;
    return {
      ...common,
      sentinels: c.REDIS_SENTINELS,
      name: c.REDIS_SENTINEL_NAME,
      role: "master",
      sentinelPassword: c.REDIS_SENTINEL_PASSWORD,
      username: c.REDIS_USERNAME,
      password: c.REDIS_PASSWORD,
      // Subscribes to the Sentinels' +switch-master: a promotion moves the clients at once,
      // also when the old primary hangs (paused) rather than closing its connections.
      failoverDetector: true,
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    };
  }
  // ioredis reads host, port, user, password, db and rediss:// (TLS) from the URL.
  const secure = new URL(c.REDIS_URL).protocol === "rediss:";
  return { ...common, ...(secure ? { tls: tlsOptions(c) } : {}) };
}

/** A connection with the role's settings (workers by default: see RedisRole). */
export function createRedis(c: RedisSettings, role: RedisRole = "worker"): Redis {
  const options = redisOptions(c, role);
  if (!usesSentinels(c)) return new Redis(c.REDIS_URL, options);
  const client = new Redis(options);
  reconnectAfterCutResolution(client);
  return client;
}

/**
 * ioredis ends a Sentinel client for good (status "end", no retry) when a disconnect lands
 * while it is asking the Sentinels for the primary: the failover detector's own disconnect
 * on +switch-master can, and the failover test saw it. Such a client connects again unless
 * it was closed on purpose (quit, disconnect()).
 */
function reconnectAfterCutResolution(client: Redis): void {
  let closing = false;
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  const quit = client.quit.bind(client) as () => Promise<"OK">;
  client.quit = (() => {
    closing = true;
    return quit();
  }) as Redis["quit"];
  // Duplicates (event readers, BullMQ's blocking clients) are Sentinel clients too.
  const duplicate = client.duplicate.bind(client);
  client.duplicate = ((...args: Parameters<Redis["duplicate"]>) => {
    const copy = duplicate(...args);
    reconnectAfterCutResolution(copy);
    return copy;
  }) as Redis["duplicate"];
  client.on("end", () => {
    if (closing) return;
    setTimeout(() => {
      if (!closing && client.status === "end") client.connect().catch(() => undefined);
    }, 200).unref();
  });
}

/**
 * Start-up check of REDIS_SENTINELS: asks every Sentinel for the primary. Throws a
 * ConfigError naming the setting when none answers, or when they know no primary of that
 * name; returns the Sentinels that did not answer (a warning: the others suffice).
 * Without Sentinels there is nothing to check here (the connection waits for Redis).
 */
export async function checkSentinels(c: RedisSettings, timeoutMs = 3000): Promise<string[]> {
  if (!usesSentinels(c)) return [];
  const sentinels = c.REDIS_SENTINELS ?? [];
  const tls = c.REDIS_TLS ? tlsOptions(c) : undefined;
  const answers = await Promise.all(
    sentinels.map(async ({ host, port }) => {
      const address = `${host}:${port}`;
      const s = new Redis({
        host,
        port,
        password: c.REDIS_SENTINEL_PASSWORD,
        tls,
        lazyConnect: true,
        connectTimeout: timeoutMs,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      });
      s.on("error", () => undefined);
      try {
        await s.connect();
        const primary = (await s.call("SENTINEL", "get-master-addr-by-name", c.REDIS_SENTINEL_NAME ?? "")) as
          | string[]
          | null;
        return { address, primary };
      } catch (err) {
        return { address, error: (err as Error).message };
      } finally {
        s.disconnect();
      }
    }),
  );
  const failed = answers.filter((a) => "error" in a);
  if (failed.length === answers.length)
    throw new ConfigError(
      `Invalid configuration:\n  REDIS_SENTINELS: no Sentinel answered (${failed
        .map((a) => `${a.address}: ${a.error}`)
        .join("; ")})`,
    );
  if (!answers.some((a) => "primary" in a && a.primary))
    throw new ConfigError(
      `Invalid configuration:\n  REDIS_SENTINEL_NAME=${JSON.stringify(c.REDIS_SENTINEL_NAME)}: ` +
        `the Sentinels that answered know no primary of that name`,
    );
  return failed.map((a) => `${a.address} (${a.error})`);
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

/** Resolves once the client is ready (a producer's commands fail until then). */
export function untilReady(redis: Redis): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => redis.once("ready", () => resolve()));
}

/**
 * An error of a Redis that is away for now (restarting, failing over, a replica that is not
 * the primary yet), as ioredis reports it to a fail-fast producer: the API answers 503.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError") return true;
  return /Stream isn't writeable|Connection is closed|^READONLY|^LOADING|^MASTERDOWN|All sentinels are unreachable|ECONNREFUSED|ETIMEDOUT/.test(
    err.message,
  );
}
