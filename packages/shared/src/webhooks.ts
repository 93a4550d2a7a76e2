import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";

/**
 * Webhook subscriptions and what the notifier records about deliveries
 * (docs/architecture.md#webhooks). An endpoint belongs to a tenant and hears every batch
 * of it created after it was registered, or, made by a batch's `webhook` field, that
 * batch only.
 */

export const WEBHOOK_EVENTS = [
  "batch.completed",
  "batch.failed_items",
  "item.succeeded",
  "item.failed",
  "package.ready",
  "package.failed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENTS);

const countsSchema = z.object({
  pending: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
});

const itemRef = z.object({ index: z.number().int(), name: z.string() });

/** The body of every delivery: `{type, timestamp, data}`, as the Standard Webhooks spec suggests. */
export const webhookPayloadSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("batch.completed"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), total: z.number().int(), counts: countsSchema }),
    })
    .describe("Every item of the batch is succeeded or failed."),
  z
    .object({
      type: z.literal("batch.failed_items"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), total: z.number().int(), counts: countsSchema }),
    })
    .describe("Sent with batch.completed when some items failed (counts.failed > 0)."),
  z
    .object({
      type: z.literal("item.succeeded"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        jobKey: z.string(),
        items: z.array(itemRef).describe("The batch's items computed by this job key"),
        counts: countsSchema,
      }),
    })
    .describe("A job key's output is recorded; read it with GET /v1/batches/{batchId}/items."),
  z
    .object({
      type: z.literal("item.failed"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        jobKey: z.string(),
        items: z.array(itemRef),
        error: z.string().optional(),
        counts: countsSchema,
      }),
    })
    .describe("A job key failed for good (attempts exhausted or bad input), with the reason."),
  z
    .object({
      type: z.literal("package.ready"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        packageId: z.string(),
        parts: z.array(z.object({ name: z.string(), size: z.number(), sha256: z.string(), url: z.string() })),
        manifest: z.string().nullable(),
        sha256sums: z.string().nullable(),
        linksExpireAt: z
          .string()
          .describe("When the presigned links stop working; GET /v1/packages/{id} signs new ones"),
        expiresAt: z.string().describe("When the package is deleted"),
      }),
    })
    .describe("A package is built; links are presigned GETs."),
  z
    .object({
      type: z.literal("package.failed"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), packageId: z.string(), error: z.string().optional() }),
    })
    .describe("A package failed for good; POST /v1/batches/{id}/package again to retry."),
]);
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  /** The event types sent; all of them when the endpoint was made without a filter. */
  events: WebhookEventType[];
  /** `whsec_` + base64 of 24 random bytes (the Standard Webhooks secret form). */
  secret: string;
  /** Set for an endpoint made by a batch's `webhook` field: it hears that batch only. */
  batchId?: string;
  createdAt: string;
}

/** An endpoint as the API shows it: the secret only in the answer that makes or rotates it. */
export type WebhookEndpointView = Omit<WebhookEndpoint, "tenant" | "secret"> & { secret?: string };

/** One finished delivery: delivered, or dead (attempts exhausted, or refused by the address check). */
export interface DeliveryRecord {
  webhookId: string;
  type: WebhookEventType;
  batchId: string;
  attempts: number;
  status?: number;
  error?: string;
  at: string;
}
export const DELIVERY_STATES = ["delivered", "dead"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** Delivery lists keep the newest this many records per endpoint and state. */
const DELIVERY_LIST_MAX = 1000;

export const webhookKeys = {
  endpoint: (id: string) => `mediaq:webhook:${id}`,
  deliveries: (id: string, state: DeliveryState) => `mediaq:webhook:${id}:${state}`,
  /** Set: the tenant's tenant-wide endpoint ids. */
  tenantEndpoints: (tenant: string) => `mediaq:webhooks:tenant:${tenant}`,
  /** Set: endpoint ids that hear one batch (tenant-wide ones registered at its creation, and its own). */
  batchEndpoints: (batchId: string) => `mediaq:webhooks:batch:${batchId}`,
  /** Sorted set: batch id -> creation (ms) of batches whose events the notifier reads. */
  watched: "mediaq:webhooks:watched",
  /** Hash: batch id -> last event-stream id turned into deliveries. */
  cursors: "mediaq:webhooks:cursors",
  /** Hash: batch id -> counts (JSON) of the last batch.completed, so it is sent once per completion. */
  completed: "mediaq:webhooks:completed",
};

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;
const newEndpointId = () => `wh_${randomBytes(12).toString("hex")}`;

export class WebhookStore {
  readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async create(o: Omit<WebhookEndpoint, "id" | "secret" | "createdAt">): Promise<WebhookEndpoint> {
    const endpoint: WebhookEndpoint = {
      id: newEndpointId(),
      secret: newWebhookSecret(),
      createdAt: new Date().toISOString(),
      ...o,
    };
    const tx = this.redis.multi().set(webhookKeys.endpoint(endpoint.id), JSON.stringify(endpoint));
    if (endpoint.batchId) tx.sadd(webhookKeys.batchEndpoints(endpoint.batchId), endpoint.id);
    else tx.sadd(webhookKeys.tenantEndpoints(endpoint.tenant), endpoint.id);
    await tx.exec();
    return endpoint;
  }

  async get(id: string): Promise<WebhookEndpoint | undefined> {
    const raw = await this.redis.get(webhookKeys.endpoint(id));
    return raw ? (JSON.parse(raw) as WebhookEndpoint) : undefined;
  }

  async getMany(ids: string[]): Promise<WebhookEndpoint[]> {
    if (ids.length === 0) return [];
    const raw = await this.redis.mget(...ids.map(webhookKeys.endpoint));
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as WebhookEndpoint);
  }

  /** The tenant's tenant-wide endpoints. */
  async list(tenant: string): Promise<WebhookEndpoint[]> {
    const ids = await this.redis.smembers(webhookKeys.tenantEndpoints(tenant));
    return (await this.getMany(ids)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async rotate(id: string): Promise<WebhookEndpoint | undefined> {
    const endpoint = await this.get(id);
    if (!endpoint) return undefined;
    const next = { ...endpoint, secret: newWebhookSecret() };
    await this.redis.set(webhookKeys.endpoint(id), JSON.stringify(next), "XX");
    return next;
  }

  async delete(endpoint: WebhookEndpoint): Promise<void> {
    const tx = this.redis
      .multi()
      .del(webhookKeys.endpoint(endpoint.id), ...DELIVERY_STATES.map((s) => webhookKeys.deliveries(endpoint.id, s)));
    if (endpoint.batchId) tx.srem(webhookKeys.batchEndpoints(endpoint.batchId), endpoint.id);
    else tx.srem(webhookKeys.tenantEndpoints(endpoint.tenant), endpoint.id);
    await tx.exec();
  }

  /**
   * Subscribes a new batch: the tenant's endpoints at this moment and the batch's own
   * (already in its set) hear it; the notifier reads its events only when some endpoint does.
   */
  async watchBatch(tenant: string, batchId: string, createdAt: string): Promise<boolean> {
    const tenantIds = await this.redis.smembers(webhookKeys.tenantEndpoints(tenant));
    const tx = this.redis.multi();
    if (tenantIds.length > 0) tx.sadd(webhookKeys.batchEndpoints(batchId), ...tenantIds);
    tx.scard(webhookKeys.batchEndpoints(batchId));
    const res = await tx.exec();
    const count = Number(res?.[res.length - 1]?.[1] ?? 0);
    if (count > 0) await this.redis.zadd(webhookKeys.watched, Date.parse(createdAt), batchId);
    return count > 0;
  }

  /** Endpoints that hear a batch (deleted ones drop out). */
  async endpointsOf(batchId: string): Promise<WebhookEndpoint[]> {
    return this.getMany(await this.redis.smembers(webhookKeys.batchEndpoints(batchId)));
  }

  async recordDelivery(endpointId: string, state: DeliveryState, record: DeliveryRecord): Promise<void> {
    const key = webhookKeys.deliveries(endpointId, state);
    // Only while the endpoint exists: a delivery finishing after DELETE leaves nothing behind.
    if (!(await this.redis.exists(webhookKeys.endpoint(endpointId)))) return;
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(record))
      .ltrim(key, 0, DELIVERY_LIST_MAX - 1)
      .exec();
  }

  /** Newest first. */
  async deliveries(endpointId: string, state: DeliveryState, limit = 100): Promise<DeliveryRecord[]> {
    const raw = await this.redis.lrange(webhookKeys.deliveries(endpointId, state), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as DeliveryRecord);
  }
}
