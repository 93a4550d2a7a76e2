import type { Redis } from "ioredis";
import { BatchLedger } from "./batches.ts";
import { EventLedger } from "./events.ts";
import { FaceTrackLedger } from "./face-tracks.ts";
import { FrameCostLedger } from "./frame-costs.ts";
import { JobLedger } from "./job-results.ts";
import { DEFAULT_LEDGER_OPTIONS, type LedgerOptions } from "./options.ts";
import { PackageBuilds } from "./package-builds.ts";
import { PackageStore } from "./packages.ts";
import { SegmentLedger } from "./segments.ts";
import { TenantAssets } from "./tenant-assets.ts";
import { WebhookLedger } from "./webhooks.ts";

export * from "./batches.ts";
export * from "./events.ts";
export * from "./face-tracks.ts";
export * from "./frame-costs.ts";
export * from "./job-results.ts";
export * from "./keys.ts";
export * from "./options.ts";
export * from "./package-builds.ts";
export * from "./packages.ts";
export * from "./segments.ts";
export * from "./tenant-assets.ts";
export * from "./webhooks.ts";

/**
 * The ledger: what mediaq knows in Redis besides BullMQ's queues, and the only gate to it
 * for the services (docs/architecture.md#ledger). Done-ness is decided by the result
 * index (plus the output object in S3), never by BullMQ's completed-job retention.
 */
export class Ledger {
  readonly batches: BatchLedger;
  readonly jobs: JobLedger;
  readonly events: EventLedger;
  readonly assets: TenantAssets;
  readonly tracks: FaceTrackLedger;
  readonly packages: PackageStore;
  readonly packageBuilds: PackageBuilds;
  readonly segments: SegmentLedger;
  readonly frameCosts: FrameCostLedger;
  readonly webhooks: WebhookLedger;
  readonly options: LedgerOptions;

  private readonly redis: Redis;

  constructor(redis: Redis, options: Partial<LedgerOptions> = {}) {
    this.redis = redis;
    this.options = { ...DEFAULT_LEDGER_OPTIONS, ...options };
    this.batches = new BatchLedger(redis, this.options);
    this.jobs = new JobLedger(redis, this.options);
    this.events = new EventLedger(redis, this.options);
    this.assets = new TenantAssets(redis);
    this.tracks = new FaceTrackLedger(redis);
    this.packages = new PackageStore(redis);
    this.packageBuilds = new PackageBuilds(redis);
    this.segments = new SegmentLedger(redis, this.options);
    this.frameCosts = new FrameCostLedger(redis);
    this.webhooks = new WebhookLedger(redis);
  }

  /** Round trip to Redis (readiness checks). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** The connection, for libraries that take a client of their own (BullMQ queues, the rate limiter). */
  connection(): Redis {
    return this.redis;
  }
}
