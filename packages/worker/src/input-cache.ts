import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { downloadBlob } from "./fetch.ts";

/** Fetched inputs live here, under CACHE_ROOT, named by their sha256 (docs/architecture.md#input-cache). */
export const inputsRoot = (cacheRoot: string) => path.join(cacheRoot, "inputs");

/** A download in progress: `.partial-<sha>-<random>`, renamed to `<sha>` once its hash is checked. */
export const PARTIAL = ".partial-";

export interface InputSweep {
  removed: number;
  freedBytes: number;
}

/**
 * A worker's content-addressed cache of its inputs: a blob is downloaded once, checked
 * against its hash, and each job that needs it gets a hard link in its scratch directory, so
 * the sweep (oldest use first, down to `maxBytes`) never pulls a file from under a job. The
 * segments of a long item on one worker thus fetch its inputs once.
 */
export class InputCache {
  private readonly root: string;
  private readonly maxBytes: number;
  /** Downloads in flight by sha256: prefetched jobs needing the same blob share one. */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(cacheRoot: string, maxBytes: number) {
    this.root = inputsRoot(cacheRoot);
    this.maxBytes = maxBytes;
  }

  /** Puts blob `sha256` at `file` (a hard link into the cache); true when it was cached already. */
  async fetch(s3: S3Client, bucket: string, sha256: string, label: string, file: string): Promise<boolean> {
    if (this.maxBytes === 0) {
      await downloadBlob(s3, bucket, sha256, label, file);
      return false;
    }
    const cached = path.join(this.root, sha256);
    if (await linkTo(cached, file)) return true;
    let download = this.fetching.get(sha256);
    if (!download) {
      download = this.download(s3, bucket, sha256, label, cached).finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, download);
    }
    await download;
    if (await linkTo(cached, file)) return false;
    // Swept between its download and the link (a cache smaller than one input): fetch it for this job alone.
    await downloadBlob(s3, bucket, sha256, label, file);
    return false;
  }

  private async download(s3: S3Client, bucket: string, sha256: string, label: string, cached: string): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    const partial = path.join(this.root, `${PARTIAL}${sha256}-${randomBytes(4).toString("hex")}`);
    try {
      await downloadBlob(s3, bucket, sha256, label, partial);
      await fs.rename(partial, cached);
    } finally {
      await fs.rm(partial, { force: true });
    }
  }

  /**
   * Removes the least recently used inputs until the cache holds at most `maxBytes`, and
   * downloads a dead worker left behind (partial files older than `ttlSeconds`). A job's
   * links keep their files until its scratch goes.
   */
  async sweep(ttlSeconds: number, now = Date.now()): Promise<InputSweep> {
    const result: InputSweep = { removed: 0, freedBytes: 0 };
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    const files: { file: string; size: number; used: number }[] = [];
    for (const name of names) {
      const file = path.join(this.root, name);
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile()) continue;
      if (name.startsWith(PARTIAL)) {
        if (now - stat.mtimeMs >= ttlSeconds * 1000 && (await remove(file))) {
          result.removed++;
          result.freedBytes += stat.size;
        }
      } else files.push({ file, size: stat.size, used: stat.mtimeMs });
    }
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (!(await remove(f.file))) continue;
      total -= f.size;
      result.removed++;
      result.freedBytes += f.size;
    }
    return result;
  }
}

/** Puts blob `sha256` at `file`: from the worker's input cache when it has one, else downloaded for this job alone. */
export function fetchInput(
  deps: { s3: S3Client; config: { S3_BUCKET: string }; inputs?: InputCache },
  sha256: string,
  label: string,
  file: string,
): Promise<unknown> {
  return deps.inputs
    ? deps.inputs.fetch(deps.s3, deps.config.S3_BUCKET, sha256, label, file)
    : downloadBlob(deps.s3, deps.config.S3_BUCKET, sha256, label, file);
}

/** Links `cached` to `file` and marks it used (its mtime: the sweep's order); false when it is not cached. */
async function linkTo(cached: string, file: string): Promise<boolean> {
  try {
    await fs.link(cached, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    // Scratch on another filesystem, or one without hard links: a copy.
    if (code !== "EXDEV" && code !== "EPERM") throw err;
    try {
      await fs.copyFile(cached, file);
    } catch (copyErr) {
      if ((copyErr as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw copyErr;
    }
  }
  const now = new Date();
  await fs.utimes(cached, now, now).catch(() => {}); // swept meanwhile: the link holds the bytes
  return true;
}

async function remove(file: string): Promise<boolean> {
  try {
    await fs.rm(file);
    return true;
  } catch {
    return false;
  }
}
