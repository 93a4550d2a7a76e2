import type { Job } from "bullmq";
import type { Ledger } from "@mediaq/shared";

/** A segment's reporter: only its frames count, added up over the item's segments (one bar per item). */
export interface SegmentProgress {
  range: string;
  /** The item's output frames. */
  total: number;
}

/** A stage job's reporter (an item's speech): its model steps are the item's, under the stage's name. */
export interface StageProgress {
  /** The item's job key. */
  jobKey: string;
  stage: string;
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
  private readonly stageOf?: StageProgress;

  constructor(
    ledger: Ledger,
    job: Job,
    jobKey: string,
    o: { intervalMs?: number; segment?: SegmentProgress; stageOf?: StageProgress } = {},
  ) {
    this.ledger = ledger;
    this.job = job;
    this.jobKey = jobKey;
    this.intervalMs = o.intervalMs ?? 500;
    this.segment = o.segment;
    this.stageOf = o.stageOf;
  }

  report(stage: string, done: number, total: number): void {
    // The item's bar shows frames (or a stage's model steps), not each segment's or stage's steps.
    if ((this.segment || this.stageOf) && stage !== "infer") return;
    const now = Date.now();
    if (done < total && now - this.last < this.intervalMs) return;
    this.last = now;
    const progress = { stage, done, total };
    // Progress is best effort: a lost update must not fail the job.
    this.pending = Promise.allSettled([this.pending, this.publish(progress), this.job.updateProgress(progress)]);
  }

  private async publish(progress: { stage: string; done: number; total: number }): Promise<void> {
    const { segment, stageOf } = this;
    if (stageOf) {
      const event = { type: "progress" as const, jobKey: stageOf.jobKey, ...progress, stage: stageOf.stage };
      await this.ledger.events.publishForJob(stageOf.jobKey, event);
      return;
    }
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
