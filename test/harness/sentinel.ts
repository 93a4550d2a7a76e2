import fs from "node:fs";
import path from "node:path";
import { freePort, type Managed, spawnManaged, waitForPort } from "@mediaq/cli/embedded";
import { Redis } from "ioredis";

/**
 * A Sentinel deployment on loopback from Debian's redis-server and redis-sentinel: one
 * primary, one replica (both AOF everysec, noeviction, as in production) and three
 * Sentinels with quorum 2. Every port is a free loopback port.
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

const NAME = "mediaq";

function startNode(dir: string, port: number, replicaOf?: number): Managed {
  fs.mkdirSync(dir, { recursive: true });
  return spawnManaged("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--maxmemory-policy",
    "noeviction",
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    "redis.log",
    ...(replicaOf ? ["--replicaof", "127.0.0.1", String(replicaOf)] : []),
  ]);
}

export async function startSentinelCluster(dir: string, o: { downAfterMs?: number } = {}): Promise<SentinelCluster> {
  const downAfterMs = o.downAfterMs ?? 1000;
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
      fs.writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "daemonize no",
          `dir ${sdir}`,
          "logfile sentinel.log",
          `sentinel monitor ${NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${NAME} 10000`,
          `sentinel parallel-syncs ${NAME} 1`,
          "",
        ].join("\n"),
      );
      const s = spawnManaged("redis-sentinel", [conf]);
      sentinels.push(s);
      await waitForPort(port, s.child, "redis-sentinel");
    }
    const ask = async <T>(fn: (s: Redis) => Promise<T>): Promise<T | undefined> => {
      for (const port of sentinelPorts) {
        const s = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
        s.on("error", () => undefined);
        try {
          await s.connect();
          return await fn(s);
        } catch {
          // the next Sentinel
        } finally {
          s.disconnect();
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
            const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
            r.on("error", () => undefined);
            try {
              await r.connect();
              const info = await r.info("replication");
              return /role:slave/.test(info) && /master_link_status:up/.test(info);
            } catch {
              return false;
            } finally {
              r.disconnect();
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
            const s = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
            s.on("error", () => undefined);
            try {
              await s.connect();
              const m = (await s.call("SENTINEL", "master", NAME)) as string[];
              const field = (k: string) => Number(m[m.indexOf(k) + 1]);
              return field("num-slaves") >= 1 && field("num-other-sentinels") >= 2;
            } catch {
              return false;
            } finally {
              s.disconnect();
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
