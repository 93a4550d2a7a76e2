/**
 * Every Redis key mediaq writes besides BullMQ's own (those live under QUEUE_PREFIX and
 * are named by BullMQ). Each family says whether it is ledger data: a snapshot carries
 * exactly the families marked `snapshot: true`, and nothing else
 * (docs/architecture.md#ledger).
 *
 * Lua scripts reach keys of other records (a job key's waiting batches) through
 * commands/includes/keys.lua, which mirrors the builders below; keys.test.ts holds the two
 * in step.
 */

export const ROOT = "mediaq:";

interface KeyFamily<A extends unknown[]> {
  /** Builds the key. */
  key: (...args: A) => string;
  /** Whether snapshots carry it. */
  snapshot: boolean;
  /** Matches every key of the family (anchored). */
  pattern: RegExp;
}

const HEX = "[0-9a-f]{64}";
const ID = "[^:]+";
const family = <A extends unknown[]>(snapshot: boolean, key: (...args: A) => string, pattern: string) => ({
  key,
  snapshot,
  pattern: new RegExp(`^${ROOT}${pattern}$`),
});

export const keyFamilies = {
  /** Hash: the recorded result of a job key (json, sha256, size, key). Kept for good. */
  result: family(true, (jobKey: string) => `${ROOT}result:${jobKey}`, `result:${HEX}`),
  /**
   * Hash: a job key's state, error, runs, segmented; expires with its batches once terminal,
   * or after the batch retention once cancelled with no batch waiting.
   */
  job: family(true, (jobKey: string) => `${ROOT}job:${jobKey}`, `job:${HEX}`),
  /** Hash: batch id -> how many of the batch's live items wait on the job key. */
  waiters: family(true, (jobKey: string) => `${ROOT}job:${jobKey}:waiters`, `job:${HEX}:waiters`),
  /** Hash: the batch record (json) and finishedAt. */
  batch: family(true, (id: string) => `${ROOT}batch:${id}`, `batch:${ID}`),
  /** List: the batch's items (JSON), in submission order. */
  batchItems: family(true, (id: string) => `${ROOT}batch:${id}:items`, `batch:${ID}:items`),
  /** Set: item names used in the batch. */
  batchNames: family(true, (id: string) => `${ROOT}batch:${id}:names`, `batch:${ID}:names`),
  /** Hash: pending/running/succeeded/failed counts of the batch's live items. */
  batchCounts: family(true, (id: string) => `${ROOT}batch:${id}:counts`, `batch:${ID}:counts`),
  /** Set: indexes of the batch's cancelled items. */
  batchCancelled: family(true, (id: string) => `${ROOT}batch:${id}:cancelled`, `batch:${ID}:cancelled`),
  /** Hash: a face track's index entry (json: FaceTrackRecord; runs); its boxes are in S3. Kept like results. */
  track: family(true, (trackKey: string) => `${ROOT}track:${trackKey}`, `track:${HEX}`),
  /**
   * Hash: a long item's finished segments (range -> JSON piece), their runs (runs:<range>)
   * and frames done (done:<range>). Expires a week after the item's result is recorded or
   * its pieces are dropped (failed, cancelled), at the latest with its batch when a cancel
   * leaves nobody waiting; a recorded piece or an attach persists it again. Not
   * snapshotted (its pieces are swept then too, and a lost record only re-runs a segment).
   */
  segments: family(false, (jobKey: string) => `${ROOT}segments:${jobKey}`, `segments:${HEX}`),
  /** Stream: the batch's events, progress included (capped); not ledger data. */
  batchEvents: family(false, (id: string) => `${ROOT}batch:${id}:events`, `batch:${ID}:events`),
  /**
   * Stream: the batch's state events (items, cancels, package outcomes) under the same ids as
   * in batchEvents, which progress cannot trim; expires with the batch; not ledger data.
   */
  batchStateEvents: family(false, (id: string) => `${ROOT}batch:${id}:state`, `batch:${ID}:state`),
  /** Sorted set: the tenant's batch ids by creation time. */
  tenantBatches: family(true, (tenant: string) => `${ROOT}tenant:${tenant}:batches`, `tenant:${ID}:batches`),
  /** Set: blob hashes the tenant sent the bytes of (earned grants: docs/architecture.md#blob-grants). */
  tenantBlobs: family(true, (tenant: string) => `${ROOT}tenant:${tenant}:blobs`, `tenant:${ID}:blobs`),
  /** Hash: model tag -> model record (JSON). */
  tenantModels: family(true, (tenant: string) => `${ROOT}tenant:${tenant}:models`, `tenant:${ID}:models`),
  /** Hash: an Idempotency-Key's batch id and request fingerprint; expires (IDEMPOTENCY_TTL_SECONDS). */
  idempotency: family(
    true,
    (tenant: string, key: string) => `${ROOT}tenant:${tenant}:idem:${key}`,
    `tenant:${ID}:idem:.+`,
  ),
  /** Sorted set: batch:index of items whose queue job may not be written yet (crash repair). */
  outbox: family(true, () => `${ROOT}outbox`, "outbox"),
  /**
   * Hash: a package record. Not mediaq:package:<id>: with QUEUE_PREFIX=mediaq that is
   * BullMQ's hash for a package job. Expires with the package; not snapshotted (a
   * restored one would point at deleted parts).
   */
  package: family(false, (id: string) => `${ROOT}pkg:${id}`, `pkg:${ID}`),
  /** Package build state (plan, manifest, parts, progress, builds, builders); expires with the package. */
  packageState: family(
    false,
    (id: string, part: "plan" | "manifest" | "parts" | "progress" | "builds" | "builders") =>
      `${ROOT}pkg:${id}:${part}`,
    `pkg:${ID}:(plan|manifest|parts|progress|builds|builders)`,
  ),
  /** Sorted set: package id -> expiry (ms); the packager's sweeper walks it. */
  packageExpiry: family(false, () => `${ROOT}packages:expiry`, "packages:expiry"),
  /** String: a webhook endpoint (JSON: tenant, URL, events, secret, batchId?). */
  webhookEndpoint: family(true, (id: string) => `${ROOT}webhook:${id}`, "webhook:wh_[0-9a-f]{24}"),
  /** List: an endpoint's newest finished deliveries (JSON), per state; not ledger data. */
  webhookDeliveries: family(
    false,
    (id: string, state: "delivered" | "dead") => `${ROOT}webhook:${id}:${state}`,
    "webhook:wh_[0-9a-f]{24}:(delivered|dead)",
  ),
  /** Set: a tenant's tenant-wide webhook endpoint ids. */
  tenantWebhooks: family(true, (tenant: string) => `${ROOT}webhooks:tenant:${tenant}`, `webhooks:tenant:${ID}`),
  /** Set: the endpoint ids that hear one batch. */
  batchWebhooks: family(true, (id: string) => `${ROOT}webhooks:batch:${id}`, `webhooks:batch:${ID}`),
  /**
   * Hash: the notifier's position in one batch's state stream (cursor) and the counts of its
   * last batch.completed (completed); expires with the batch.
   */
  webhookReader: family(false, (id: string) => `${ROOT}webhooks:batch:${id}:reader`, `webhooks:batch:${ID}:reader`),
  /**
   * Sorted set: batch id -> ms of its oldest state event the notifier has not turned into
   * deliveries. Written with the event, cleared by the notifier (docs/architecture.md#webhooks).
   */
  webhooksDue: family(false, () => `${ROOT}webhooks:due`, "webhooks:due"),
  /** String: how many times a model actually ran (fault tests count redone work with it). */
  inferenceRuns: family(false, () => `${ROOT}stats:inference-runs`, "stats:inference-runs"),
  /**
   * Hash: what a frame costs (model:WxH -> JSON {perFrame, fixed} seconds), measured by the
   * workers; long items' segments are sized by it. Not ledger data: lost, it is measured again.
   */
  frameCosts: family(false, () => `${ROOT}stats:frame-costs`, "stats:frame-costs"),
  /** String: how many times face detection actually ran over a video (tests assert once per video). */
  detectionRuns: family(false, () => `${ROOT}stats:detection-runs`, "stats:detection-runs"),
  /** List: one worker's inference sections (JSON), newest last, capped. */
  inferenceSpans: family(
    false,
    (workerId: string) => `${ROOT}stats:inference-spans:${workerId}`,
    "stats:inference-spans:.+",
  ),
  /** Strings: per-tenant request counts of the rate limiter (its own names under this prefix). */
  rateLimit: family(false, () => `${ROOT}ratelimit:`, "ratelimit:.+"),
} satisfies Record<string, KeyFamily<never[]>>;

/** Key builders by name, as most callers want them. */
export const redisKeys = {
  result: keyFamilies.result.key,
  job: keyFamilies.job.key,
  waiters: keyFamilies.waiters.key,
  batch: keyFamilies.batch.key,
  batchItems: keyFamilies.batchItems.key,
  batchNames: keyFamilies.batchNames.key,
  batchCounts: keyFamilies.batchCounts.key,
  batchCancelled: keyFamilies.batchCancelled.key,
  batchEvents: keyFamilies.batchEvents.key,
  batchStateEvents: keyFamilies.batchStateEvents.key,
  tenantBatches: keyFamilies.tenantBatches.key,
  tenantBlobs: keyFamilies.tenantBlobs.key,
  tenantModels: keyFamilies.tenantModels.key,
  idempotency: keyFamilies.idempotency.key,
  outbox: keyFamilies.outbox.key(),
  package: keyFamilies.package.key,
  packageState: keyFamilies.packageState.key,
  packageExpiry: keyFamilies.packageExpiry.key(),
  inferenceRuns: keyFamilies.inferenceRuns.key(),
  frameCosts: keyFamilies.frameCosts.key(),
  track: keyFamilies.track.key,
  segments: keyFamilies.segments.key,
  detectionRuns: keyFamilies.detectionRuns.key(),
  inferenceSpans: keyFamilies.inferenceSpans.key,
  rateLimitPrefix: keyFamilies.rateLimit.key(),
  webhookEndpoint: keyFamilies.webhookEndpoint.key,
  webhookDeliveries: keyFamilies.webhookDeliveries.key,
  tenantWebhooks: keyFamilies.tenantWebhooks.key,
  batchWebhooks: keyFamilies.batchWebhooks.key,
  webhookReader: keyFamilies.webhookReader.key,
  webhooksDue: keyFamilies.webhooksDue.key(),
  /** Prefix scripts build keys under (commands/includes/keys.lua). */
  root: ROOT,
};

const SNAPSHOT_FAMILIES = Object.values(keyFamilies).filter((f) => f.snapshot);

/** Whether a snapshot carries this key: it belongs to a family marked as ledger data. */
export function isSnapshotKey(key: string): boolean {
  return SNAPSHOT_FAMILIES.some((f) => f.pattern.test(key));
}
