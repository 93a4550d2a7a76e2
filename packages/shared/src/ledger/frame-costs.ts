import type { Redis } from "ioredis";
import { redisKeys as K } from "./keys.ts";

/**
 * Seconds: per output frame (the frame path, the mel and the upload over the frames), and per
 * segment besides (fetch, probe, model, audio window, ledger: 0 until a segment measured it).
 */
export interface FrameCost {
  perFrame: number;
  fixed: number;
}

/** Weight of the newest run in the moving average. */
const ALPHA = 0.3;

/**
 * What a frame costs, by model and frame size, as the workers measured it: a moving average
 * over their jobs and segments, shared so that any worker plans a long item's segments by it
 * (docs/architecture.md#segments). Concurrent updates may drop one run's sample: it is an
 * estimate.
 */
export class FrameCostLedger {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** One run: its cost per frame, and its fixed cost when it was a segment's (undefined: not measured by it). */
  async observe(key: string, run: { perFrame: number; fixed?: number }): Promise<void> {
    const old = await this.estimate(key);
    const average = (was: number | undefined, now: number | undefined) =>
      now === undefined ? (was ?? 0) : was === undefined ? now : was + ALPHA * (now - was);
    const next: FrameCost = { perFrame: average(old?.perFrame, run.perFrame), fixed: average(old?.fixed, run.fixed) };
    await this.redis.hset(K.frameCosts, key, JSON.stringify(next));
  }

  async estimate(key: string): Promise<FrameCost | undefined> {
    const raw = await this.redis.hget(K.frameCosts, key);
    return raw ? (JSON.parse(raw) as FrameCost) : undefined;
  }
}
