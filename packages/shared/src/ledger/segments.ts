import { redisKeys as K } from "./keys.ts";
import { LedgerSection } from "./ledger-section.ts";

const SETTLED_TTL_SECONDS = 7 * 24 * 3600;
/** The item's segment length (frames), beside its pieces; a name with ":" is no piece's range. */
const PLAN_FIELD = "plan:frames";

/** A finished segment of a long item: its piece in S3 (docs/architecture.md#segments). */
export interface SegmentPiece {
  start: number;
  count: number;
  /** outputs/<jobKey>/<attemptId>/segment-<range>.mp4 */
  key: string;
  sha256: string;
  size: number;
  /** Frames the segment's decoder decoded (its own, plus what its seeks decoded before them). */
  decoded?: number;
}

/**
 * Segments of long items: which are finished (their pieces), how often each ran, and the
 * frames done per segment (the item's one progress bar adds them up).
 */
export class SegmentLedger extends LedgerSection {
  /** Records a finished segment unless one is recorded for its range already; the first stands. */
  async record(
    jobKey: string,
    range: string,
    piece: SegmentPiece,
  ): Promise<{ recorded: boolean; piece: SegmentPiece }> {
    const key = K.segments(jobKey);
    // A retried item's record may be expiring (drop): its pieces live until it settles.
    const [[, set], [, raw]] = (await this.redis
      .multi()
      .hsetnx(key, range, JSON.stringify(piece))
      .hget(key, range)
      .persist(key)
      .exec()) as [[unknown, number], [unknown, string]];
    return { recorded: set === 1, piece: JSON.parse(raw) as SegmentPiece };
  }

  /** The finished segments of an item, by range. */
  async pieces(jobKey: string): Promise<Map<string, SegmentPiece>> {
    const all = await this.redis.hgetall(K.segments(jobKey));
    return new Map(
      Object.entries(all)
        .filter(([field]) => !field.includes(":"))
        .map(([range, raw]) => [range, JSON.parse(raw) as SegmentPiece]),
    );
  }

  /**
   * Marks a long item as waiting for its segments: from here on cancelling its batch
   * withdraws it (cancelBatch), though it is running.
   */
  async markSegmented(jobKey: string): Promise<void> {
    await this.redis.hset(K.job(jobKey), "segmented", 1);
  }

  /**
   * The item's segment length in frames: the first plan recorded stands, so a job run again
   * (on another worker, with another cost estimate) keeps the segments already finished.
   */
  async planFrames(jobKey: string, frames: number): Promise<number> {
    const key = K.segments(jobKey);
    const [, [, raw]] = (await this.redis.multi().hsetnx(key, PLAN_FIELD, frames).hget(key, PLAN_FIELD).exec()) as [
      unknown,
      [unknown, string],
    ];
    return Number(raw);
  }

  /** The segment length recorded for the item by an earlier run, if any. */
  async plannedFrames(jobKey: string): Promise<number | undefined> {
    const raw = await this.redis.hget(K.segments(jobKey), PLAN_FIELD);
    return raw === null ? undefined : Number(raw);
  }

  /** Counts a model run of one segment (the fault tests compare it with segments interrupted). */
  async countRun(jobKey: string, range: string): Promise<void> {
    await this.redis.hincrby(K.segments(jobKey), `runs:${range}`, 1);
  }

  /** Model runs per segment range. */
  async runs(jobKey: string): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(K.segments(jobKey));
    return new Map(
      Object.entries(all)
        .filter(([field]) => field.startsWith("runs:"))
        .map(([field, n]) => [field.slice("runs:".length), Number(n)]),
    );
  }

  /** Sets one segment's frames done; returns the item's frames done over all its segments. */
  async progress(jobKey: string, range: string, done: number): Promise<number> {
    const key = K.segments(jobKey);
    const [, [, all]] = (await this.redis.multi().hset(key, `done:${range}`, done).hgetall(key).exec()) as [
      unknown,
      [unknown, Record<string, string>],
    ];
    return Object.entries(all)
      .filter(([field]) => field.startsWith("done:"))
      .reduce((sum, [, n]) => sum + Number(n), 0);
  }

  /**
   * Forgets an item's pieces (it failed for good or was cancelled, and they were deleted);
   * the run counts stay readable a while, then the record expires like a settled one.
   */
  async drop(jobKey: string): Promise<void> {
    const key = K.segments(jobKey);
    const fields = (await this.redis.hkeys(key)).filter((f) => !f.startsWith("runs:"));
    const tx = this.redis.multi();
    if (fields.length > 0) tx.hdel(key, ...fields);
    await tx.expire(key, SETTLED_TTL_SECONDS).exec();
  }

  /** The item's result is recorded and its pieces swept: the record expires (runs stay readable a while). */
  async settle(jobKey: string): Promise<void> {
    await this.redis.expire(K.segments(jobKey), SETTLED_TTL_SECONDS);
  }
}
