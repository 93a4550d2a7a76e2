import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Per-job scratch directories live here, under CACHE_ROOT (models live in CACHE_ROOT/models). */
export const jobsRoot = (cacheRoot: string) => path.join(cacheRoot, "jobs");

export const LOCK_FILE = "owner.lock";

export interface ScratchLock {
  pid: number;
  host: string;
  jobKey: string;
  createdAt: string;
}

export interface Scratch {
  dir: string;
  path(name: string): string;
  /** Bytes currently held by the directory. */
  size(): Promise<number>;
  remove(): Promise<void>;
}

/**
 * A fresh directory for one job attempt. The lock file names the owning process and host
 * so a sweeper can tell a live job's directory from one a crashed worker left behind.
 */
export async function createScratch(cacheRoot: string, jobKey: string): Promise<Scratch> {
  const root = jobsRoot(cacheRoot);
  await fs.mkdir(root, { recursive: true });
  const dir = path.join(root, `${jobKey}-${process.pid}-${randomBytes(4).toString("hex")}`);
  await fs.mkdir(dir);
  const lock: ScratchLock = { pid: process.pid, host: os.hostname(), jobKey, createdAt: new Date().toISOString() };
  await fs.writeFile(path.join(dir, LOCK_FILE), `${JSON.stringify(lock)}\n`);
  return {
    dir,
    path: (name) => path.join(dir, name),
    size: () => directorySize(dir),
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** Removes the scratch directories this process owns (used at shutdown). */
export async function removeOwnScratch(cacheRoot: string): Promise<number> {
  const root = jobsRoot(cacheRoot);
  const entries = await fs.readdir(root).catch(() => [] as string[]);
  let removed = 0;
  for (const name of entries) {
    const lock = await fs
      .readFile(path.join(root, name, LOCK_FILE), "utf8")
      .then((t) => JSON.parse(t) as ScratchLock)
      .catch(() => undefined);
    if (lock && lock.pid === process.pid && lock.host === os.hostname()) {
      await fs.rm(path.join(root, name), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/** Bytes held by the files under dir. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await directorySize(p) : (await fs.stat(p)).size;
  }
  return total;
}
