import fs from "node:fs";
import path from "node:path";
import { freePort, type Managed, spawnManaged, waitForPort } from "@mediaq/cli/embedded";
import { Redis } from "ioredis";

/**
 * A Sentinel deployment on loopback from Debian's redis-server and redis-sentinel: one
 * primary, one replica and three Sentinels with quorum 2, each run from the README's files
 * as written (infra/redis/redis.conf, infra/redis/sentinel.conf) with only their ports and
 * the primary's address changed to free loopback ones.
 */
export interface SentinelCluster {
  /** The primary's name the Sentinels monitor. */
  name: string;
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" (REDIS_SENTINELS). */
  sentinels: string;
  /** Environment for mediaq services and clients. */
  env: Record<string, string>;
  /** The data nodes by port (the first one started as primary). */
  nodes: Map<number, Managed>;
  downAfterMs: number;
  /** Port of the primary as the Sentinels see it now. */
  primaryPort(): Promise<number | undefined>;
  /** Polls the Sentinels until they name a primary other than `oldPort`; returns its port. */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Until `port` is a replica of the current primary with its link up. */
  waitForReplica(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const INFRA = path.resolve(import.meta.dirname, "../../infra/redis");
const REDIS_CONF = fs.readFileSync(path.join(INFRA, "redis.conf"), "utf8");
const SENTINEL_CONF = fs.readFileSync(path.join(INFRA, "sentinel.conf"), "utf8");
const setting = (conf: string, re: RegExp) => {
  const m = re.exec(conf);
  if (!m?.[1]) throw new Error(`infra/redis: no ${re} line`);
  return m[1];
};
/** The name, passwords and timing the files set. */
const NAME = setting(SENTINEL_CONF, /^sentinel monitor (\S+) /m);
export const DATA_PASSWORD = setting(REDIS_CONF, /^requirepass (\S+)$/m);
export const SENTINEL_PASSWORD = setting(SENTINEL_CONF, /^requirepass (\S+)$/m);
const DOWN_AFTER_MS = Number(setting(SENTINEL_CONF, /^sentinel down-after-milliseconds \S+ (\d+)$/m));

/** The file's own lines, its port replaced, and where this machine keeps its files. */
function localConf(conf: string, port: number, dir: string, extra: string[]): string {
  return [
    conf.replace(/^port \d+$/m, `port ${port}`),
    "bind 127.0.0.1",
    "daemonize no",
    `dir ${dir}`,
    "logfile server.log",
    ...extra,
    "",
  ].join("\n");
}

function startNode(dir: string, port: number, replicaOf?: number): Managed {
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, "redis.conf");
  fs.writeFileSync(conf, localConf(REDIS_CONF, port, dir, replicaOf ? [`replicaof 127.0.0.1 ${replicaOf}`] : []));
  return spawnManaged("redis-server", [conf]);
}

/** `fn` on a one-off connection to 127.0.0.1:port that never reconnects: it throws when the server is away. */
async function onConnection<T>(port: number, password: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: "127.0.0.1", password, lazyConnect: true, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export async function startSentinelCluster(dir: string): Promise<SentinelCluster> {
  const downAfterMs = DOWN_AFTER_MS;
  const [primaryPort, replicaPort, ...sentinelPorts] = (await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  )) as [number, number, number, number, number];
  const nodes = new Map<number, Managed>();
  const sentinels: Managed[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...nodes.values()].map((m) => m.kill()));
  };
  try {
    nodes.set(primaryPort, startNode(path.join(dir, "primary"), primaryPort));
    await waitForPort(primaryPort, (nodes.get(primaryPort) as Managed).child, "redis primary");
    nodes.set(replicaPort, startNode(path.join(dir, "replica"), replicaPort, primaryPort));
    await waitForPort(replicaPort, (nodes.get(replicaPort) as Managed).child, "redis replica");
    for (const port of sentinelPorts) {
      const sdir = path.join(dir, `sentinel-${port}`);
      fs.mkdirSync(sdir, { recursive: true });
      // Sentinels rewrite their file (known replicas and Sentinels, the epoch).
      const conf = path.join(sdir, "sentinel.conf");
      const monitored = SENTINEL_CONF.replace(
        /^(sentinel monitor \S+) \S+ \d+ (\d+)$/m,
        `$1 127.0.0.1 ${primaryPort} $2`,
      );
      fs.writeFileSync(conf, localConf(monitored, port, sdir, []));
      const s = spawnManaged("redis-sentinel", [conf]);
      sentinels.push(s);
      await waitForPort(port, s.child, "redis-sentinel");
    }
    const ask = async <T>(fn: (s: Redis) => Promise<T>): Promise<T | undefined> => {
      for (const port of sentinelPorts) {
        try {
          return await onConnection(port, SENTINEL_PASSWORD, fn);
        } catch {
          // the next Sentinel
        }
      }
      return undefined;
    };
    const primary = async () => {
      const addr = await ask((s) => s.call("SENTINEL", "get-master-addr-by-name", NAME) as Promise<string[] | null>);
      return addr?.[1] ? Number(addr[1]) : undefined;
    };
    const until = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`sentinel cluster: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const cluster: SentinelCluster = {
      name: NAME,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(","),
      env: {
        REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(","),
        REDIS_SENTINEL_NAME: NAME,
        REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        REDIS_PASSWORD: DATA_PASSWORD,
      },
      nodes,
      downAfterMs,
      primaryPort: primary,
      async waitForPromotion(oldPort, timeoutMs = 60_000) {
        let port: number | undefined;
        await until(
          "a new primary",
          async () => {
            port = await primary();
            return port !== undefined && port !== oldPort;
          },
          timeoutMs,
        );
        return port as number;
      },
      async waitForReplica(port, timeoutMs = 60_000) {
        await until(
          `127.0.0.1:${port} to replicate`,
          async () => {
            try {
              const info = await onConnection(port, DATA_PASSWORD, (r) => r.info("replication"));
              return /role:slave/.test(info) && /master_link_status:up/.test(info);
            } catch {
              return false;
            }
          },
          timeoutMs,
        );
      },
      stop,
    };
    // Ready when every Sentinel knows the replica and the other Sentinels (they find each
    // other through the primary's hello channel).
    await cluster.waitForReplica(replicaPort);
    await until(
      "the Sentinels to know each other and the replica",
      async () => {
        const views = await Promise.all(
          sentinelPorts.map(async (port) => {
            try {
              const m = (await onConnection(port, SENTINEL_PASSWORD, (s) =>
                s.call("SENTINEL", "master", NAME),
              )) as string[];
              const field = (k: string) => Number(m[m.indexOf(k) + 1]);
              return field("num-slaves") >= 1 && field("num-other-sentinels") >= 2;
            } catch {
              return false;
            }
          }),
        );
        return views.every(Boolean);
      },
      30_000,
    );
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
