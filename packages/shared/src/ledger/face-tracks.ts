import type { Redis } from "ioredis";
import type { FaceTrackRecord } from "../face-track.ts";
import { redisKeys as K } from "./keys.ts";

/** Face tracks: the index of tracks/<trackKey>/track.json, one per (video, detector, params). */
export class FaceTrackLedger {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Indexes a stored track (its boxes are in S3 at record.key). */
  async record(record: FaceTrackRecord): Promise<void> {
    await this.redis.hset(K.track(record.trackKey), "json", JSON.stringify(record));
  }

  async get(trackKey: string): Promise<FaceTrackRecord | undefined> {
    const raw = await this.redis.hget(K.track(trackKey), "json");
    return raw ? (JSON.parse(raw) as FaceTrackRecord) : undefined;
  }

  /** Counts a detection run, overall and per track (tests assert detection runs once per video). */
  async countDetectionRun(trackKey: string): Promise<void> {
    await this.redis.multi().incr(K.detectionRuns).hincrby(K.track(trackKey), "runs", 1).exec();
  }
}
