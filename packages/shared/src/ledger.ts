import type { Redis } from "ioredis";
import type { FaceTrackRecord, ItemFace } from "./face-track.ts";
import type { AdapterName, ChannelOrder, Inputs } from "./jobs.ts";
import { redisKeys as K } from "./keys.ts";

/**
 * The ledger: what mediaq knows in Redis besides BullMQ's queues. Batches hold items in
 * order; an item points at a job key; the job key's state is shared by every batch that
 * waits on it, and each batch keeps counters so its status never scans its items.
 * Done-ness is decided by the result index (plus the output object in S3), never by
 * BullMQ's completed-job retention.
 */

export const ITEM_STATES = ["pending", "running", "succeeded", "failed"] as const;
export type ItemState = (typeof ITEM_STATES)[number];
export type Counts = Record<ItemState, number>;

export interface BatchItem {
  name: string;
  jobKey: string;
  inputs: Inputs;
  params: Record<string, unknown>;
}

export interface BatchRecord {
  id: string;
  tenant: string;
  model: string;
  modelTag?: string;
  adapter: AdapterName;
  /** The model's channel order (absent in batches from before it was recorded: the adapter's default). */
  channels?: ChannelOrder;
  params: Record<string, unknown>;
  createdAt: string;
}

export interface ResultRecord {
  jobKey: string;
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
}

export interface ItemView {
  index: number;
  name: string;
  jobKey: string;
  state: ItemState;
  error?: string;
  output?: { sha256: string; size: number };
  /** The face track used, with how many frames had no face (and passed through unchanged). */
  face?: ItemFace;
}

export interface ModelRecord {
  tag: string;
  sha256: string;
  adapter: AdapterName;
  /** Absent in tags registered before it was recorded: the adapter's default. */
  channels?: ChannelOrder;
}

/** An event on a batch's stream; served to clients as Server-Sent Events. */
export type BatchEvent =
  | { type: "item"; jobKey: string; state: ItemState; error?: string }
  | { type: "progress"; jobKey: string; stage: string; done: number; total: number }
  | { type: "package"; packageId: string; state: string; bytes?: number; totalBytes?: number };

const EVENTS_MAXLEN = 10_000;

// Moves a job key to a new state, shifting the counters of every batch that waits on it
// and appending an event to each batch's stream. A succeeded job never leaves that state.
const TRANSITION = `
local old = redis.call('HGET', KEYS[1], 'state')
local new = ARGV[2]
if old == new or old == 'succeeded' then return 0 end
redis.call('HSET', KEYS[1], 'state', new, 'updatedAt', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) else redis.call('HDEL', KEYS[1], 'error') end
local waiters = redis.call('HGETALL', KEYS[2])
for i = 1, #waiters, 2 do
  local batch, n = waiters[i], tonumber(waiters[i + 1])
  local counts = ARGV[5] .. 'batch:' .. batch .. ':counts'
  if old then redis.call('HINCRBY', counts, old, -n) end
  redis.call('HINCRBY', counts, new, n)
  redis.call('XADD', ARGV[5] .. 'batch:' .. batch .. ':events', 'MAXLEN', '~', ARGV[6], '*', 'data', ARGV[7])
end
return 1
`;

// Makes a batch wait on a job key. Returns the state the batch sees and whether the job
// must be (re)queued: a job key never seen, or one that failed before, runs again; one
// with a recorded result is succeeded at once.
const ATTACH = `
local old = redis.call('HGET', KEYS[1], 'state')
local target = old
local enqueue = 0
if redis.call('EXISTS', KEYS[3]) == 1 then
  target = 'succeeded'
elseif (not old) or old == 'failed' then
  target = 'pending'
  enqueue = 1
end
if old and old ~= target then
  local waiters = redis.call('HGETALL', KEYS[2])
  for i = 1, #waiters, 2 do
    local counts = ARGV[4] .. 'batch:' .. waiters[i] .. ':counts'
    redis.call('HINCRBY', counts, old, -tonumber(waiters[i + 1]))
    redis.call('HINCRBY', counts, target, tonumber(waiters[i + 1]))
  end
end
if old ~= target then
  redis.call('HSET', KEYS[1], 'state', target, 'updatedAt', ARGV[3])
  redis.call('HDEL', KEYS[1], 'error')
end
redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', ARGV[4] .. 'batch:' .. ARGV[1] .. ':counts', target, ARGV[2])
return {target, enqueue}
`;

export class Ledger {
  readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
    redis.defineCommand("mqTransition", { numberOfKeys: 2, lua: TRANSITION });
    redis.defineCommand("mqAttach", { numberOfKeys: 3, lua: ATTACH });
  }

  // ---- models and blobs (visibility per tenant) ----

  async setModel(tenant: string, model: ModelRecord): Promise<void> {
    await this.redis.hset(K.tenantModels(tenant), model.tag, JSON.stringify(model));
  }

  async getModel(tenant: string, tag: string): Promise<ModelRecord | undefined> {
    const raw = await this.redis.hget(K.tenantModels(tenant), tag);
    return raw ? (JSON.parse(raw) as ModelRecord) : undefined;
  }

  async listModels(tenant: string): Promise<ModelRecord[]> {
    const all = await this.redis.hvals(K.tenantModels(tenant));
    return all.map((m) => JSON.parse(m) as ModelRecord).sort((a, b) => a.tag.localeCompare(b.tag));
  }

  async grantBlob(tenant: string, sha256: string): Promise<void> {
    await this.redis.sadd(K.tenantBlobs(tenant), sha256);
  }

  async hasBlobs(tenant: string, sha256s: string[]): Promise<boolean[]> {
    if (sha256s.length === 0) return [];
    const found = await this.redis.smismember(K.tenantBlobs(tenant), ...sha256s);
    return found.map((f) => f === 1);
  }

  // ---- batches ----

  /** Stores a new batch; with an idempotency key, returns the id of the batch made first. */
  async createBatch(batch: BatchRecord, idempotencyKey?: string): Promise<{ id: string; created: boolean }> {
    if (idempotencyKey) {
      const key = K.idempotency(batch.tenant, idempotencyKey);
      const won = await this.redis.set(key, batch.id, "NX");
      if (!won) return { id: (await this.redis.get(key)) as string, created: false };
    }
    await this.redis
      .multi()
      .hset(K.batch(batch.id), "json", JSON.stringify(batch))
      .hset(K.batchCounts(batch.id), { pending: 0, running: 0, succeeded: 0, failed: 0 })
      .zadd(K.tenantBatches(batch.tenant), Date.parse(batch.createdAt), batch.id)
      .exec();
    return { id: batch.id, created: true };
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const raw = await this.redis.hget(K.batch(id), "json");
    return raw ? (JSON.parse(raw) as BatchRecord) : undefined;
  }

  /** Newest first. */
  async listBatches(tenant: string, limit = 100): Promise<string[]> {
    return this.redis.zrevrange(K.tenantBatches(tenant), 0, limit - 1);
  }

  /** Names already used in the batch, among those given. */
  async takenNames(batchId: string, names: string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const found = await this.redis.smismember(K.batchNames(batchId), ...names);
    return names.filter((_, i) => found[i] === 1);
  }

  /**
   * Appends items (in order) and attaches each to its job key. Returns, per item, the
   * state it starts in and whether its job must be queued.
   */
  async appendItems(
    batchId: string,
    items: BatchItem[],
  ): Promise<{ firstIndex: number; states: { state: ItemState; enqueue: boolean }[] }> {
    if (items.length === 0) return { firstIndex: await this.redis.llen(K.batchItems(batchId)), states: [] };
    const added = await this.redis
      .multi()
      .rpush(K.batchItems(batchId), ...items.map((i) => JSON.stringify(i)))
      .sadd(K.batchNames(batchId), ...items.map((i) => i.name))
      .exec();
    const length = Number(added?.[0]?.[1]);
    const now = new Date().toISOString();
    const pipe = this.redis.pipeline();
    for (const item of items) {
      // biome-ignore lint/suspicious/noExplicitAny: commands defined with defineCommand
      (pipe as any).mqAttach(
        K.job(item.jobKey),
        K.waiters(item.jobKey),
        K.result(item.jobKey),
        batchId,
        1,
        now,
        K.root,
      );
    }
    const replies = (await pipe.exec()) ?? [];
    const states = replies.map(([err, reply]) => {
      if (err) throw err;
      const [state, enqueue] = reply as [ItemState, number];
      return { state, enqueue: enqueue === 1 };
    });
    return { firstIndex: length - items.length, states };
  }

  async total(batchId: string): Promise<number> {
    return this.redis.llen(K.batchItems(batchId));
  }

  async counts(batchId: string): Promise<Counts> {
    const raw = await this.redis.hgetall(K.batchCounts(batchId));
    return Object.fromEntries(ITEM_STATES.map((s) => [s, Math.max(0, Number(raw[s] ?? 0))])) as Counts;
  }

  async items(batchId: string, start: number, count: number): Promise<BatchItem[]> {
    if (count <= 0) return [];
    const raw = await this.redis.lrange(K.batchItems(batchId), start, start + count - 1);
    return raw.map((r) => JSON.parse(r) as BatchItem);
  }

  /** Items with their current state, error and output. */
  async itemViews(batchId: string, start: number, count: number): Promise<ItemView[]> {
    const items = await this.items(batchId, start, count);
    const pipe = this.redis.pipeline();
    for (const item of items) {
      pipe.hmget(K.job(item.jobKey), "state", "error");
      pipe.hmget(K.result(item.jobKey), "sha256", "size", "face");
    }
    const replies = (await pipe.exec()) ?? [];
    return items.map((item, i) => {
      const [state, error] = replies[2 * i]?.[1] as (string | null)[];
      const [sha256, size, face] = replies[2 * i + 1]?.[1] as (string | null)[];
      const view: ItemView = {
        index: start + i,
        name: item.name,
        jobKey: item.jobKey,
        state: (state ?? "pending") as ItemState,
      };
      if (error && state === "failed") view.error = error;
      if (sha256) {
        view.state = "succeeded";
        view.output = { sha256, size: Number(size) };
        if (face) view.face = JSON.parse(face) as ItemFace;
      }
      return view;
    });
  }

  /** Stops a batch from waiting on a job key; returns how many batches still wait on it. */
  async detach(batchId: string, jobKey: string, n: number, state: ItemState): Promise<number> {
    const res = await this.redis
      .multi()
      .hincrby(K.waiters(jobKey), batchId, -n)
      .hincrby(K.batchCounts(batchId), state, -n)
      .hgetall(K.waiters(jobKey))
      .exec();
    const waiters = (res?.[2]?.[1] ?? {}) as Record<string, string>;
    const left = Object.entries(waiters).filter(([, v]) => Number(v) > 0);
    if (Number(waiters[batchId] ?? 0) <= 0) await this.redis.hdel(K.waiters(jobKey), batchId);
    return left.length;
  }

  async waitingBatches(jobKey: string): Promise<string[]> {
    const waiters = await this.redis.hgetall(K.waiters(jobKey));
    return Object.entries(waiters)
      .filter(([, n]) => Number(n) > 0)
      .map(([b]) => b);
  }

  // ---- job states and results ----

  async jobState(jobKey: string): Promise<{ state?: ItemState; error?: string }> {
    const [state, error] = await this.redis.hmget(K.job(jobKey), "state", "error");
    return { state: (state ?? undefined) as ItemState | undefined, error: error ?? undefined };
  }

  /** Moves a job key to a state; false when it already was there or has succeeded. */
  async transition(jobKey: string, state: ItemState, error?: string): Promise<boolean> {
    const event: BatchEvent = { type: "item", jobKey, state, ...(error ? { error } : {}) };
    // biome-ignore lint/suspicious/noExplicitAny: commands defined with defineCommand
    const changed = await (this.redis as any).mqTransition(
      K.job(jobKey),
      K.waiters(jobKey),
      jobKey,
      state,
      error ?? "",
      new Date().toISOString(),
      K.root,
      EVENTS_MAXLEN,
      JSON.stringify(event),
    );
    return changed === 1;
  }

  async recordResult(result: ResultRecord): Promise<void> {
    await this.redis.hset(K.result(result.jobKey), {
      json: JSON.stringify(result),
      sha256: result.sha256,
      size: result.size,
      ...(result.face ? { face: JSON.stringify(result.face) } : {}),
    });
    await this.transition(result.jobKey, "succeeded");
  }

  async getResult(jobKey: string): Promise<ResultRecord | undefined> {
    const raw = await this.redis.hget(K.result(jobKey), "json");
    return raw ? (JSON.parse(raw) as ResultRecord) : undefined;
  }

  async getResults(jobKeys: string[]): Promise<(ResultRecord | undefined)[]> {
    const pipe = this.redis.pipeline();
    for (const k of jobKeys) pipe.hget(K.result(k), "json");
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([, raw]) => (raw ? (JSON.parse(raw as string) as ResultRecord) : undefined));
  }

  // ---- face tracks ----

  /** Indexes a stored track (its boxes are in S3 at record.key). */
  async recordTrack(record: FaceTrackRecord): Promise<void> {
    await this.redis.hset(K.track(record.trackKey), "json", JSON.stringify(record));
  }

  async getTrack(trackKey: string): Promise<FaceTrackRecord | undefined> {
    const raw = await this.redis.hget(K.track(trackKey), "json");
    return raw ? (JSON.parse(raw) as FaceTrackRecord) : undefined;
  }

  // ---- events ----

  async publish(batchIds: string[], event: BatchEvent): Promise<void> {
    if (batchIds.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const id of batchIds)
      pipe.xadd(K.batchEvents(id), "MAXLEN", "~", EVENTS_MAXLEN, "*", "data", JSON.stringify(event));
    await pipe.exec();
  }

  /** Publishes to every batch waiting on a job key. */
  async publishForJob(jobKey: string, event: BatchEvent): Promise<void> {
    await this.publish(await this.waitingBatches(jobKey), event);
  }

  /** Events after `lastId` ("0" for all kept, "$" for new only); blocks up to blockMs. */
  async readEvents(
    batchId: string,
    lastId: string,
    blockMs: number,
    redis: Redis = this.redis,
  ): Promise<{ id: string; event: BatchEvent }[]> {
    const reply = (await redis.xread("COUNT", 500, "BLOCK", blockMs, "STREAMS", K.batchEvents(batchId), lastId)) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ id, event: JSON.parse(fields[1] ?? "{}") as BatchEvent }));
  }
}
