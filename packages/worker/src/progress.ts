import type { Job } from "bullmq";
import type { Ledger } from "@mediaq/shared";

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

  constructor(ledger: Ledger, job: Job, jobKey: string, intervalMs = 500) {
    this.ledger = ledger;
    this.job = job;
    this.jobKey = jobKey;
    this.intervalMs = intervalMs;
  }

  report(stage: string, done: number, total: number): void {
    const now = Date.now();
    if (done < total && now - this.last < this.intervalMs) return;
    this.last = now;
    const progress = { stage, done, total };
    // Progress is best effort: a lost update must not fail the job.
    this.pending = Promise.allSettled([
      this.pending,
      this.ledger.events.publishForJob(this.jobKey, { type: "progress", jobKey: this.jobKey, ...progress }),
      this.job.updateProgress(progress),
    ]);
  }

  flush(): Promise<unknown> {
    return this.pending;
  }
}
