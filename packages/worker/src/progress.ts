import type { Job } from "bullmq";
import type { Ledger } from "@mediaq/shared";

/** A segment's reporter: only its frames count, added up over the item's segments (one bar per item). */
export interface SegmentProgress {
  range: string;
  /** The item's output frames. */
  total: number;
}

/**
 * Progress per stage for the batches waiting on a job and for BullMQ's job.progress,
 * throttled to one update per interval per job (the last update of a stage always goes out).
 */
export class ProgressReporter {
  private last = 0;
  private pending: Promise<unknown> = Promise.resolve();

  private readonly ledger: Ledger;
  private readonly job: Job;
  private readonly jobKey: string;
  private readonly intervalMs: number;
  private readonly segment?: SegmentProgress;

  constructor(ledger: Ledger, job: Job, jobKey: string, o: { intervalMs?: number; segment?: SegmentProgress } = {}) {
    this.ledger = ledger;
    this.job = job;
    this.jobKey = jobKey;
    this.intervalMs = o.intervalMs ?? 500;
    this.segment = o.segment;
  }

  report(stage: string, done: number, total: number): void {
    if (this.segment && stage !== "infer") return; // the item's bar shows frames, not each segment's steps
    const now = Date.now();
    if (done < total && now - this.last < this.intervalMs) return;
    this.last = now;
    const progress = { stage, done, total };
    // Progress is best effort: a lost update must not fail the job.
    this.pending = Promise.allSettled([this.pending, this.publish(progress), this.job.updateProgress(progress)]);
  }

  private async publish(progress: { stage: string; done: number; total: number }): Promise<void> {
    const { segment } = this;
    const item = segment
      ? {
          stage: progress.stage,
          done: await this.ledger.segments.progress(this.jobKey, segment.range, progress.done),
          total: segment.total,
        }
      : progress;
    await this.ledger.events.publishForJob(this.jobKey, { type: "progress", jobKey: this.jobKey, ...item });
  }

  flush(): Promise<unknown> {
    return this.pending;
  }
}
