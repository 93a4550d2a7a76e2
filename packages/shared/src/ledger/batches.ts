import type { ItemFace } from "../face-track.ts";
import type { AdapterName, ChannelOrder, Inputs, SpeechStage } from "../jobs.ts";
import { ITEM_STATES, type ItemState } from "./job-results.ts";
import { redisKeys as K } from "./keys.ts";
import { LedgerSection } from "./ledger-section.ts";
import type { WebhookEndpoint } from "../webhooks.ts";

export type Counts = Record<ItemState, number>;

export interface BatchItem {
  name: string;
  jobKey: string;
  inputs: Inputs;
  params: Record<string, unknown>;
  /** A script-to-video item's speech stage (docs/architecture.md#script-to-video). */
  speech?: SpeechStage;
}

export interface BatchRecord {
  id: string;
  tenant: string;
  model: string;
  modelTag?: string;
  adapter: AdapterName;
  /** The model's channel order (absent in batches from before it was recorded: the adapter's default). */
  channels?: ChannelOrder;
  /** The config blob registered with the model (a Piper voice's .onnx.json), when it has one. */
  config?: string;
  params: Record<string, unknown>;
  createdAt: string;
}

/** An item as the API shows it; a cancelled item no longer waits on its job key. */
export type ItemViewState = ItemState | "cancelled";

export interface ItemView {
  index: number;
  name: string;
  jobKey: string;
  state: ItemViewState;
  error?: string;
  output?: { sha256: string; size: number };
  /** The face track used, with how many frames had no face (and passed through unchanged). */
  face?: ItemFace;
}

export interface BatchStatus {
  total: number;
  counts: Counts;
  cancelled: number;
  /** No live item is pending or running. */
  done: boolean;
  finishedAt?: string;
}

/** Per item, the state it starts in and whether its queue job must be written. */
export interface Attached {
  firstIndex: number;
  states: { state: ItemState; enqueue: boolean }[];
  /** Outbox entries ("<batchId>:<index>") of the items to queue; clear them once queued. */
  outbox: string[];
}

export type CreateOutcome =
  | ({ kind: "created"; id: string } & Attached)
  | { kind: "replay"; id: string }
  | { kind: "mismatch"; id: string };

export type AppendOutcome =
  | ({ kind: "appended" } & Attached)
  | { kind: "taken"; names: string[] }
  | { kind: "missing" };

/** An item whose queue job may not have been written (see outbox). */
export interface OutboxEntry {
  entry: string;
  batch: BatchRecord;
  item: BatchItem;
}

const itemArgs = (items: BatchItem[]) => items.flatMap((i) => [i.jobKey, i.name, JSON.stringify(i)]);

/**
 * Batches: items in submission order, each waiting on its job key; counters per batch so
 * status never scans items. Every write that moves counters is one Lua command.
 */
export class BatchLedger extends LedgerSection {
  /**
   * Creates a batch with its items, bound to an Idempotency-Key when given: the same key
   * with the same fingerprint replays the batch, with another fingerprint it is a mismatch.
   * In the same step the batch is subscribed to the tenant's webhook endpoints and to its
   * own `webhook`, if given (docs/architecture.md#webhooks).
   */
  async create(
    batch: BatchRecord,
    items: BatchItem[],
    idempotency?: { key: string; fingerprint: string },
    webhook?: WebhookEndpoint,
  ): Promise<CreateOutcome> {
    const now = Date.now();
    const reply = await this.redis.mqCreateBatch(
      idempotency ? K.idempotency(batch.tenant, idempotency.key) : K.batchNames(batch.id),
      K.batch(batch.id),
      K.tenantBatches(batch.tenant),
      K.root,
      batch.id,
      JSON.stringify(batch),
      new Date(now).toISOString(),
      now,
      idempotency?.fingerprint ?? "",
      this.o.idempotencyTtlSeconds,
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
      batch.tenant,
      webhook?.id ?? "",
      webhook ? JSON.stringify(webhook) : "",
      ...itemArgs(items),
    );
    const [kind, id] = reply as [string, string];
    if (kind === "replay" || kind === "mismatch") return { kind, id };
    return { kind: "created", id: batch.id, ...attached(batch.id, reply) };
  }

  /** The living batch an Idempotency-Key is bound to, with the request fingerprint. */
  async idempotent(tenant: string, key: string): Promise<{ batchId: string; fingerprint: string } | undefined> {
    const [batchId, fingerprint] = await this.redis.hmget(K.idempotency(tenant, key), "batch", "fingerprint");
    if (!batchId || !fingerprint || !(await this.redis.exists(K.batch(batchId)))) return undefined;
    return { batchId, fingerprint };
  }

  /** Appends items to a batch; names already used are refused with nothing written. */
  async append(batchId: string, items: BatchItem[]): Promise<AppendOutcome> {
    const reply = await this.redis.mqAppendItems(...this.batchArgs(batchId), ...itemArgs(items));
    if (reply[0] === "missing") return { kind: "missing" };
    if (reply[0] === "taken") return { kind: "taken", names: reply.slice(1).map(String) };
    return { kind: "appended", ...attached(batchId, reply) };
  }

  async get(id: string): Promise<BatchRecord | undefined> {
    const raw = await this.redis.hget(K.batch(id), "json");
    return raw ? (JSON.parse(raw) as BatchRecord) : undefined;
  }

  /** Newest first; ids of expired batches are dropped from the index on the way. */
  async list(tenant: string, limit = 100): Promise<BatchRecord[]> {
    const ids = await this.redis.zrevrange(K.tenantBatches(tenant), 0, limit - 1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(K.batch(id), "json");
    const replies = (await pipe.exec()) ?? [];
    const gone = ids.filter((_, i) => !replies[i]?.[1]);
    if (gone.length > 0) await this.redis.zrem(K.tenantBatches(tenant), ...gone);
    return replies.flatMap(([, raw]) => (raw ? [JSON.parse(raw as string) as BatchRecord] : []));
  }

  /** Names already used in the batch, among those given. */
  async takenNames(batchId: string, names: string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const found = await this.redis.smismember(K.batchNames(batchId), ...names);
    return names.filter((_, i) => found[i] === 1);
  }

  async total(batchId: string): Promise<number> {
    return this.redis.llen(K.batchItems(batchId));
  }

  /** Counters of the live items, as stored (a negative one would be a bug and shows). */
  async counts(batchId: string): Promise<Counts> {
    const raw = await this.redis.hgetall(K.batchCounts(batchId));
    return Object.fromEntries(ITEM_STATES.map((s) => [s, Number(raw[s] ?? 0)])) as Counts;
  }

  /** Status from counters only, in one round trip, so 10,000 items answer in O(1). */
  async status(batchId: string): Promise<BatchStatus> {
    const res = await this.redis
      .multi()
      .llen(K.batchItems(batchId))
      .hgetall(K.batchCounts(batchId))
      .scard(K.batchCancelled(batchId))
      .hget(K.batch(batchId), "finishedAt")
      .exec();
    const raw = (res?.[1]?.[1] ?? {}) as Record<string, string>;
    const counts = Object.fromEntries(ITEM_STATES.map((s) => [s, Number(raw[s] ?? 0)])) as Counts;
    const finishedAt = res?.[3]?.[1] as string | null;
    return {
      total: Number(res?.[0]?.[1] ?? 0),
      counts,
      cancelled: Number(res?.[2]?.[1] ?? 0),
      done: counts.pending === 0 && counts.running === 0,
      ...(finishedAt ? { finishedAt } : {}),
    };
  }

  async items(batchId: string, start: number, count: number): Promise<BatchItem[]> {
    if (count <= 0) return [];
    const raw = await this.redis.lrange(K.batchItems(batchId), start, start + count - 1);
    return raw.map((r) => JSON.parse(r) as BatchItem);
  }

  /** Items with their current state, error and output. */
  async itemViews(batchId: string, start: number, count: number): Promise<ItemView[]> {
    const items = await this.items(batchId, start, count);
    if (items.length === 0) return [];
    const pipe = this.redis.pipeline();
    pipe.smismember(K.batchCancelled(batchId), ...items.map((_, i) => start + i));
    for (const item of items) {
      pipe.hmget(K.job(item.jobKey), "state", "error");
      pipe.hmget(K.result(item.jobKey), "sha256", "size", "face");
    }
    const replies = (await pipe.exec()) ?? [];
    const cancelled = (replies[0]?.[1] ?? []) as number[];
    return items.map((item, i) => {
      const [state, error] = replies[1 + 2 * i]?.[1] as (string | null)[];
      const [sha256, size, face] = replies[2 + 2 * i]?.[1] as (string | null)[];
      const view: ItemView = {
        index: start + i,
        name: item.name,
        jobKey: item.jobKey,
        state: (state ?? "pending") as ItemState,
      };
      // A cancelled item left the batch, even if its job key succeeded later for another.
      if (cancelled[i] === 1) view.state = "cancelled";
      else if (sha256) {
        view.state = "succeeded";
        view.output = { sha256, size: Number(size) };
        if (face) view.face = JSON.parse(face) as ItemFace;
      } else if (error && state === "failed") view.error = error;
      return view;
    });
  }

  /** Counters recomputed from the items' states (cancelled items count in none). */
  async recount(batchId: string): Promise<Counts> {
    const counts = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Counts;
    const total = await this.total(batchId);
    for (let start = 0; start < total; start += 1000) {
      for (const view of await this.itemViews(batchId, start, 1000))
        if (view.state !== "cancelled") counts[view.state]++;
    }
    return counts;
  }

  /** Writes recomputed counters when they disagree (after a restore); true when they did. */
  async repairCounts(batchId: string): Promise<boolean> {
    const [stored, counted] = await Promise.all([this.counts(batchId), this.recount(batchId)]);
    if (ITEM_STATES.every((s) => stored[s] === counted[s])) return false;
    await this.redis.hset(K.batchCounts(batchId), counted);
    return true;
  }

  /**
   * Cancels the batch's pending items in one step with any worker's start. Returns how
   * many items were cancelled and the job keys no batch waits on any more.
   */
  async cancel(batchId: string): Promise<{ cancelled: number; orphaned: string[] }> {
    const reply = await this.redis.mqCancelBatch(
      K.batch(batchId),
      K.root,
      batchId,
      new Date().toISOString(),
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
    );
    return { cancelled: Number(reply[0] ?? 0), orphaned: reply.slice(1).map(String) };
  }

  /** Moves the batch's failed job keys back to pending; returns retried items and outbox entries to queue. */
  async retry(batchId: string): Promise<{ retried: number; outbox: string[] }> {
    const reply = await this.redis.mqRetryBatch(...this.batchArgs(batchId));
    return { retried: Number(reply[0] ?? 0), outbox: reply.slice(1).map(String) };
  }

  /**
   * The outbox: items the ledger made pending whose queue job may not be written yet (the
   * writer crashed between the two). Entries older than `olderThanMs` are resolved to
   * their batch and item; entries whose batch is gone are dropped.
   */
  async outboxBefore(olderThanMs: number, limit = 1000): Promise<OutboxEntry[]> {
    return this.resolveOutbox(await this.redis.zrangebyscore(K.outbox, "-inf", olderThanMs, "LIMIT", 0, limit));
  }

  /** The outbox entries of one batch, whatever their age (a replayed submit heals its batch). */
  async outboxOf(batchId: string): Promise<OutboxEntry[]> {
    const entries: string[] = [];
    let cursor = "0";
    do {
      const [next, page] = await this.redis.zscan(K.outbox, cursor, "MATCH", `${batchId}:*`, "COUNT", 1000);
      for (let i = 0; i < page.length; i += 2) entries.push(page[i] as string);
      cursor = next;
    } while (cursor !== "0");
    return this.resolveOutbox(entries);
  }

  /** Resolves entries to their batch and item; entries whose batch is gone are dropped. */
  private async resolveOutbox(entries: string[]): Promise<OutboxEntry[]> {
    const found: OutboxEntry[] = [];
    const gone: string[] = [];
    for (const entry of entries) {
      const [batchId = "", index = "0"] = entry.split(":");
      const [batchRaw, itemRaw] = await Promise.all([
        this.redis.hget(K.batch(batchId), "json"),
        this.redis.lindex(K.batchItems(batchId), Number(index)),
      ]);
      if (!batchRaw || !itemRaw) gone.push(entry);
      else found.push({ entry, batch: JSON.parse(batchRaw) as BatchRecord, item: JSON.parse(itemRaw) as BatchItem });
    }
    if (gone.length > 0) await this.clearOutbox(gone);
    return found;
  }

  /** KEYS and ARGV shared by appendItems-1 and retryBatch-1: batch hash; root, id, now (ISO, ms), MAXLEN, retention. */
  private batchArgs(batchId: string): (string | number)[] {
    const now = Date.now();
    return [
      K.batch(batchId),
      K.root,
      batchId,
      new Date(now).toISOString(),
      now,
      this.o.eventsMaxLen,
      this.o.batchRetentionSeconds,
    ];
  }

  /** Forgets outbox entries whose queue jobs are written. */
  async clearOutbox(entries: string[]): Promise<void> {
    if (entries.length > 0) await this.redis.zrem(K.outbox, ...entries);
  }
}

function attached(batchId: string, reply: (string | number)[]): Attached {
  const firstIndex = Number(reply[1]);
  const states: Attached["states"] = [];
  const outbox: string[] = [];
  for (let i = 2; i < reply.length; i += 2) {
    const enqueue = Number(reply[i + 1]) === 1;
    if (enqueue) outbox.push(`${batchId}:${firstIndex + states.length}`);
    states.push({ state: reply[i] as ItemState, enqueue });
  }
  return { firstIndex, states, outbox };
}
