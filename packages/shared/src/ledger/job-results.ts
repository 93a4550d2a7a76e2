import type { ItemFace } from "../face-track.ts";
import type { Inputs } from "../jobs.ts";
import type { OutputInfo } from "../output-info.ts";
import { redisKeys as K } from "./keys.ts";
import { LedgerSection } from "./ledger-section.ts";

export const ITEM_STATES = ["pending", "running", "succeeded", "failed"] as const;
export type ItemState = (typeof ITEM_STATES)[number];

export interface ResultRecord {
  jobKey: string;
  /** The object whose bytes sha256 describes (each attempt writes its own). */
  key: string;
  sha256: string;
  size: number;
  model: string;
  adapter: string;
  inputs: Inputs;
  params: Record<string, unknown>;
  completedAt: string;
  timings?: Record<string, number>;
  /** The face track the item used (absent with an explicit box). */
  face?: ItemFace;
  /** Kind, file, extension and MIME type; absent on results made before (mp4 videos: DEFAULT_OUTPUT). */
  output?: OutputInfo;
}

/** One inference section of a worker, for the prefetch overlap checks. */
export interface InferenceSpan {
  jobKey: string;
  start: number;
  end: number;
  runSeconds: number;
}

const SPANS_KEPT = 1000;
const SPANS_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Job keys: the state every batch waiting on a job key sees, and its result. A result,
 * once recorded, is never replaced, so it always names the object it hashed.
 */
export class JobLedger extends LedgerSection {
  async state(jobKey: string): Promise<{ state?: ItemState; error?: string; runs: number }> {
    const [state, error, runs] = await this.redis.hmget(K.job(jobKey), "state", "error", "runs");
    return {
      state: (state ?? undefined) as ItemState | undefined,
      error: error ?? undefined,
      runs: Number(runs ?? 0),
    };
  }

  /**
   * A worker takes a job key: "started" moves it to running, "done" means a result
   * exists, "orphan" that no batch waits on it any more (it was cancelled). Runs as
   * one step with cancel, so the two cannot interleave. A segment of a long item starts
   * its item's job key too, but never revives a failed one ("failed").
   */
  async start(jobKey: string): Promise<"started" | "done" | "orphan">;
  async start(jobKey: string, o: { segment: true }): Promise<"started" | "done" | "orphan" | "failed">;
  async start(jobKey: string, o?: { segment: true }): Promise<"started" | "done" | "orphan" | "failed"> {
    return this.redis.mqStartJob(
      K.job(jobKey),
      K.waiters(jobKey),
      K.result(jobKey),
      K.root,
      jobKey,
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
      o?.segment ? "segment" : "",
    );
  }

  /**
   * A worker takes a stage job key (docs/architecture.md#script-to-video): "done" when its
   * result exists, "orphan" when no batch waits on it nor on its parent job key.
   */
  async startStage(jobKey: string, parentJobKey: string): Promise<"started" | "done" | "orphan"> {
    return this.redis.mqStartStage(
      K.job(jobKey),
      K.waiters(jobKey),
      K.result(jobKey),
      K.waiters(parentJobKey),
      K.root,
      jobKey,
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
    );
  }

  /**
   * Moves a job key to a state; false when it already was there, has succeeded, was
   * cancelled, or is not in `o.from` (when given).
   */
  async transition(jobKey: string, state: ItemState, error?: string, o: { from?: ItemState } = {}): Promise<boolean> {
    const moved = await this.redis.mqTransition(
      K.job(jobKey),
      K.result(jobKey),
      K.root,
      jobKey,
      state,
      error ?? "",
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
      o.from ?? "",
    );
    return moved === 1;
  }

  /**
   * A long item's segment failed for good: the item fails (transition), and the answer says
   * whether its pieces must go. They go unless the item is live (a retry made it pending, or
   * it still runs): also when it was failed already, or was cancelled with no batch left
   * waiting (no state), since its own job fails with the segment and never runs to drop
   * them (docs/architecture.md#segments).
   */
  async failForSegment(jobKey: string, error: string, o: { from?: ItemState } = {}): Promise<boolean> {
    await this.transition(jobKey, "failed", error, o);
    return !(await this.live(jobKey));
  }

  /**
   * Whether a batch still waits for the job key to run (pending or running): a long item's
   * pieces are of use only then (docs/architecture.md#segments).
   */
  async live(jobKey: string): Promise<boolean> {
    const { state } = await this.state(jobKey);
    return state === "pending" || state === "running";
  }

  /**
   * A job handed back to its queue: running -> pending, unless another worker holds its
   * queue job by now (`lockKey`, BullMQ's lock of the job; handBack-3). Call it after
   * BullMQ's moveToWait (failure-policy.ts handBackJob).
   */
  async handBack(jobKey: string, lockKey: string): Promise<boolean> {
    const moved = await this.redis.mqHandBack(
      K.job(jobKey),
      K.result(jobKey),
      lockKey,
      K.root,
      jobKey,
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
    );
    return moved === 1;
  }

  /**
   * Records a result unless one is recorded already. Returns whether this one was
   * recorded, and the object key of the result that stands.
   */
  async recordResult(result: ResultRecord): Promise<{ recorded: boolean; key: string }> {
    const [outcome, key] = await this.redis.mqRecordResult(
      K.result(result.jobKey),
      K.job(result.jobKey),
      K.root,
      result.jobKey,
      JSON.stringify(result),
      result.sha256,
      result.size,
      result.key,
      result.face ? JSON.stringify(result.face) : "",
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
    );
    return { recorded: outcome === "recorded", key };
  }

  async getResult(jobKey: string): Promise<ResultRecord | undefined> {
    const raw = await this.redis.hget(K.result(jobKey), "json");
    return raw ? (JSON.parse(raw) as ResultRecord) : undefined;
  }

  async getResults(jobKeys: string[]): Promise<(ResultRecord | undefined)[]> {
    if (jobKeys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const k of jobKeys) pipe.hget(K.result(k), "json");
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([, raw]) => (raw ? (JSON.parse(raw as string) as ResultRecord) : undefined));
  }

  /** Counts a model run, overall and per job key (the fault tests assert no finished work is redone). */
  async countInferenceRun(workerId: string, span: InferenceSpan): Promise<void> {
    const spans = K.inferenceSpans(workerId);
    await this.redis
      .multi()
      .incr(K.inferenceRuns)
      .hincrby(K.job(span.jobKey), "runs", 1)
      .rpush(spans, JSON.stringify(span))
      .ltrim(spans, -SPANS_KEPT, -1)
      .expire(spans, SPANS_TTL_SECONDS)
      .exec();
  }

  /** Model runs so far, across all workers. */
  async inferenceRuns(): Promise<number> {
    return Number((await this.redis.get(K.inferenceRuns)) ?? 0);
  }

  /** A worker's inference sections, oldest first. */
  async inferenceSpans(workerId: string): Promise<InferenceSpan[]> {
    return (await this.redis.lrange(K.inferenceSpans(workerId), 0, -1)).map((s) => JSON.parse(s) as InferenceSpan);
  }
}
