import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { DELIVERY_STATES, type DeliveryRecord, type DeliveryState, type WebhookEndpoint } from "../webhooks.ts";
import { redisKeys as K } from "./keys.ts";

/**
 * Webhook endpoints, which batches they hear, the notifier's reading position and its
 * delivery lists (docs/architecture.md#webhooks).
 */
/** Delivery lists keep the newest this many records per endpoint and state. */
const DELIVERY_LIST_MAX = 1000;

const webhookKeys = {
  endpoint: K.webhookEndpoint,
  deliveries: K.webhookDeliveries,
  tenantEndpoints: K.tenantWebhooks,
  batchEndpoints: K.batchWebhooks,
  watched: K.webhooksWatched,
  cursors: K.webhookCursors,
  completed: K.webhooksCompleted,
};

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;
const newEndpointId = () => `wh_${randomBytes(12).toString("hex")}`;

export class WebhookLedger {
  private readonly redis: Redis;

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

  // ---- the notifier's reading position ----

  /** Watched batch ids, oldest first. */
  async watched(limit: number): Promise<string[]> {
    return this.redis.zrange(webhookKeys.watched, 0, limit - 1);
  }

  /** The last event id turned into deliveries, per batch ("0" = none yet). */
  async cursors(batchIds: string[]): Promise<string[]> {
    if (batchIds.length === 0) return [];
    return (await this.redis.hmget(webhookKeys.cursors, ...batchIds)).map((c) => c ?? "0");
  }

  /** Saves a batch's cursor, and the counts of a completion just queued (sent once per completion). */
  async advance(batchId: string, cursor: string, completedCounts?: string): Promise<void> {
    const tx = this.redis.multi().hset(webhookKeys.cursors, batchId, cursor);
    if (completedCounts) tx.hset(webhookKeys.completed, batchId, completedCounts);
    await tx.exec();
  }

  async lastCompletion(batchId: string): Promise<string | null> {
    return this.redis.hget(webhookKeys.completed, batchId);
  }

  /** The batch has work again: its next completion is a new one. */
  async reopen(batchId: string): Promise<void> {
    await this.redis.hdel(webhookKeys.completed, batchId);
  }

  /** Stops watching a batch (its record expired). */
  async unwatch(batchId: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(webhookKeys.watched, batchId)
      .hdel(webhookKeys.cursors, batchId)
      .hdel(webhookKeys.completed, batchId)
      .del(webhookKeys.batchEndpoints(batchId))
      .exec();
  }

  /** Newest first. */
  async deliveries(endpointId: string, state: DeliveryState, limit = 100): Promise<DeliveryRecord[]> {
    const raw = await this.redis.lrange(webhookKeys.deliveries(endpointId, state), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as DeliveryRecord);
  }
}
