import fs from "node:fs/promises";
import type { Logger } from "@mediaq/shared";
import type { Worker } from "bullmq";
import type { WorkerMetrics } from "./metrics.ts";

/**
 * Free-disk guard: while the filesystem holding CACHE_ROOT has less than minFreeBytes
 * available, the workers are paused (take no jobs) instead of failing jobs for lack of
 * space; a poll resumes them when space returns. minFreeBytes may be changed at run time.
 */
export class DiskGuard {
  private workers: Worker[] = [];
  private timer?: NodeJS.Timeout;
  private paused = false;

  private readonly dir: string;
  minFreeBytes: number;
  private readonly pollMs: number;
  private readonly log: Logger;
  private readonly metrics: WorkerMetrics;

  constructor(dir: string, minFreeBytes: number, pollMs: number, log: Logger, metrics: WorkerMetrics) {
    this.dir = dir;
    this.minFreeBytes = minFreeBytes;
    this.pollMs = pollMs;
    this.log = log;
    this.metrics = metrics;
  }

  /** The workers it pauses and resumes (the item worker and the segment worker). */
  attach(...workers: Worker[]): void {
    this.workers = workers;
  }

  async freeBytes(): Promise<number> {
    await fs.mkdir(this.dir, { recursive: true });
    const s = await fs.statfs(this.dir);
    return s.bavail * s.bsize;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Pauses or resumes the worker to match the free space; true when there is room for a job. */
  async check(): Promise<boolean> {
    const free = await this.freeBytes();
    const room = free >= this.minFreeBytes;
    if (!room && !this.paused) {
      this.paused = true;
      this.metrics.diskPaused.set(1);
      this.log.warn(
        { dir: this.dir, freeBytes: free, minFreeBytes: this.minFreeBytes },
        "free disk below MIN_FREE_DISK_BYTES: not taking jobs until space returns",
      );
      await Promise.all(this.workers.map((w) => w.pause(true))); // true: do not wait for the running job here
    } else if (room && this.paused) {
      this.paused = false;
      this.metrics.diskPaused.set(0);
      this.log.info({ freeBytes: free }, "free disk back above MIN_FREE_DISK_BYTES: taking jobs again");
      for (const w of this.workers) w.resume();
    }
    return room;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.check().catch((err) => this.log.error({ err }, "free-disk check failed"));
    }, this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
