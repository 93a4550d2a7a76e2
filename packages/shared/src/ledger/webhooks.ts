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
  reader: K.webhookReader,
  due: K.webhooksDue,
};

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;
const newEndpointId = () => `wh_${randomBytes(12).toString("hex")}`;

/** A new endpoint record (id and secret drawn here); written by `create` or with its batch. */
export function newWebhookEndpoint(o: Omit<WebhookEndpoint, "id" | "secret" | "createdAt">): WebhookEndpoint {
  return { id: newEndpointId(), secret: newWebhookSecret(), createdAt: new Date().toISOString(), ...o };
}

/** Where the notifier is in one batch's state stream. */
export interface WebhookReaderState {
  /** Id of the last state event turned into deliveries ("0" = none yet). */
  cursor: string;
  /** Counts (JSON) of the last batch.completed queued, if any. */
  completed?: string;
}

export class WebhookLedger {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Registers a tenant-wide endpoint (a batch's own is written with its batch: BatchLedger.create). */
  async create(o: Omit<WebhookEndpoint, "id" | "secret" | "createdAt" | "batchId">): Promise<WebhookEndpoint> {
    const endpoint = newWebhookEndpoint(o);
    await this.redis
      .multi()
      .set(webhookKeys.endpoint(endpoint.id), JSON.stringify(endpoint))
      .sadd(webhookKeys.tenantEndpoints(endpoint.tenant), endpoint.id)
      .exec();
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
    // A batch's own endpoint keeps its expiry (it goes with its batch).
    await this.redis.set(webhookKeys.endpoint(id), JSON.stringify(next), "KEEPTTL", "XX");
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

  /** Endpoints that hear a batch (deleted ones drop out). */
  async endpointsOf(batchId: string): Promise<WebhookEndpoint[]> {
    return this.getMany(await this.redis.smembers(webhookKeys.batchEndpoints(batchId)));
  }

  /** A batch's own endpoint (its `webhook` field), while the batch lives. */
  async ownOf(batchId: string): Promise<WebhookEndpoint | undefined> {
    const id = await this.redis.hget(K.batch(batchId), "webhook");
    return id ? this.get(id) : undefined;
  }

  /** Only while the endpoint exists; the list expires with it. */
  async recordDelivery(endpointId: string, state: DeliveryState, record: DeliveryRecord): Promise<void> {
    await this.redis.mqRecordDelivery(
      webhookKeys.endpoint(endpointId),
      webhookKeys.deliveries(endpointId, state),
      K.root,
      JSON.stringify(record),
      DELIVERY_LIST_MAX,
    );
  }

  // ---- the notifier's reading position ----

  /** Batches with state events not yet turned into deliveries, oldest unread first. */
  async due(limit: number): Promise<string[]> {
    return this.redis.zrange(webhookKeys.due, 0, limit - 1);
  }

  async reader(batchId: string): Promise<WebhookReaderState> {
    const [cursor, completed] = await this.redis.hmget(webhookKeys.reader(batchId), "cursor", "completed");
    return { cursor: cursor ?? "0", ...(completed ? { completed } : {}) };
  }

  /**
   * Saves a batch's cursor, and the counts of a completion just queued (sent once per
   * completion). Returns whether unread state events remain (the batch stays due).
   */
  async advance(batchId: string, cursor: string, completedCounts?: string): Promise<boolean> {
    const more = await this.redis.mqAdvanceWebhooks(
      webhookKeys.reader(batchId),
      K.batchStateEvents(batchId),
      webhookKeys.due,
      K.batch(batchId),
      K.root,
      batchId,
      cursor,
      completedCounts ?? "",
    );
    return more === 1;
  }

  /** The batch has work again: its next completion is a new one. */
  async reopen(batchId: string): Promise<void> {
    await this.redis.hdel(webhookKeys.reader(batchId), "completed");
  }

  /** Newest first. */
  async deliveries(endpointId: string, state: DeliveryState, limit = 100): Promise<DeliveryRecord[]> {
    const raw = await this.redis.lrange(webhookKeys.deliveries(endpointId, state), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as DeliveryRecord);
  }
}
