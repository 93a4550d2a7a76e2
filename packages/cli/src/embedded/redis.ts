import fs from "node:fs";
import path from "node:path";
import { freePort, type Managed, spawnManaged, waitForPort } from "./process.ts";

export interface EmbeddedRedis extends Managed {
  port: number;
  url: string;
  dataDir: string;
}

/**
 * A local redis-server with the settings mediaq needs in production too: AOF with
 * fsync every second (a crash loses at most a second of ledger writes) and noeviction.
 */
export async function startRedis(opts: { dataDir: string; port?: number }): Promise<EmbeddedRedis> {
  const port = opts.port ?? (await freePort());
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const managed = spawnManaged("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    path.resolve(opts.dataDir),
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
  ]);
  await waitForPort(port, managed.child, "redis-server");
  return { ...managed, port, url: `redis://127.0.0.1:${port}`, dataDir: opts.dataDir };
}
