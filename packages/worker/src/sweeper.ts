import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { directorySize, jobsRoot, LOCK_FILE, type ScratchLock } from "./scratch.ts";

export interface SweepResult {
  removed: string[];
  freedBytes: number;
  failures: number;
}

/** Is the process alive? EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes job scratch directories that crashed workers left behind. A directory goes only
 * when it is older than ttlSeconds (last change) AND its owner is gone: on this host that
 * means the lock's pid no longer runs; a lock from another host (a shared CACHE_ROOT) cannot
 * be checked, so age alone decides. A directory whose owner lives is never touched, so
 * workers sharing one CACHE_ROOT never delete each other's data.
 */
export async function sweepScratch(cacheRoot: string, ttlSeconds: number, now = Date.now()): Promise<SweepResult> {
  const root = jobsRoot(cacheRoot);
  const result: SweepResult = { removed: [], freedBytes: 0, failures: 0 };
  const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  const host = os.hostname();
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(root, entry.name);
    const stat = await fs.stat(dir).catch(() => undefined);
    if (!stat || now - stat.mtimeMs < ttlSeconds * 1000) continue;
    // A directory without a readable lock was never fully created (crash right after mkdir).
    const lock = await fs
      .readFile(path.join(dir, LOCK_FILE), "utf8")
      .then((t) => JSON.parse(t) as ScratchLock)
      .catch(() => undefined);
    if (lock && lock.host === host && pidAlive(lock.pid)) continue;
    try {
      const bytes = await directorySize(dir).catch(() => 0);
      await fs.rm(dir, { recursive: true, force: true });
      result.removed.push(dir);
      result.freedBytes += bytes;
    } catch {
      result.failures++;
    }
  }
  return result;
}
