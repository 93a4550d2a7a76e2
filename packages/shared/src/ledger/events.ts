import type { Redis } from "ioredis";
import type { BatchEvent } from "../api-schemas.ts";
import { ROLE_OPTIONS } from "../redis.ts";
import { redisKeys as K } from "./keys.ts";
import { LedgerSection } from "./ledger-section.ts";

// An event on a batch's stream, served to clients as Server-Sent Events (declared with the API's schemas).
export type { BatchEvent };

export interface StoredEvent {
  id: string;
  event: BatchEvent;
}

type XReadReply = [string, [string, string[]][]][] | null;

const parse = ([id, fields]: [string, string[]]): StoredEvent => ({
  id,
  event: JSON.parse(fields[1] ?? "{}") as BatchEvent,
});

/**
 * A state event says what happened to an item, a cancel or a package; progress (and a
 * package's bytes while it builds) only says how far something got, and may be trimmed.
 */
export const isStateEvent = (event: BatchEvent): boolean =>
  event.type !== "progress" && !(event.type === "package" && event.state === "building");

/**
 * Batch event streams, expiring with their batch: every event in a capped stream, and the
 * state events again, under the same ids, in a stream progress cannot trim
 * (docs/architecture.md#events).
 */
export class EventLedger extends LedgerSection {
  async publish(batchIds: string[], event: BatchEvent): Promise<void> {
    if (batchIds.length === 0) return;
    const pipe = this.redis.pipeline();
    const data = JSON.stringify(event);
    const state = isStateEvent(event) ? "1" : "0";
    for (const id of batchIds)
      pipe.mqPublish(K.batch(id), K.batchEvents(id), K.root, this.o.eventsMaxLen, data, id, state);
    await pipe.exec();
  }

  /** Publishes to every batch waiting on a job key. */
  async publishForJob(jobKey: string, event: BatchEvent): Promise<void> {
    await this.publish(await this.waitingBatches(jobKey), event);
  }

  async waitingBatches(jobKey: string): Promise<string[]> {
    const waiters = await this.redis.hgetall(K.waiters(jobKey));
    return Object.entries(waiters)
      .filter(([, n]) => Number(n) > 0)
      .map(([b]) => b);
  }

  /** Id of the newest event of a batch, "0" when it has none. */
  async newestId(batchId: string): Promise<string> {
    const newest = await this.redis.xrevrange(K.batchEvents(batchId), "+", "-", "COUNT", 1);
    return newest[0]?.[0] ?? "0";
  }

  /**
   * Events after `afterId` (exclusive) up to `untilId` (inclusive, "+" = newest), in order.
   * Where progress trimmed the capped stream past `afterId`, the state events of the gap
   * come from the state stream, so a resuming reader misses no state event. Fewer than
   * `count` events means the end was reached.
   */
  async range(batchId: string, afterId: string, untilId = "+", count = 1000): Promise<StoredEvent[]> {
    const kept = (await this.redis.xrange(K.batchEvents(batchId), `(${afterId}`, untilId, "COUNT", count)).map(parse);
    // State events older than the oldest kept event were trimmed from the capped stream.
    const gapEnd = kept[0] ? `(${kept[0].id}` : untilId;
    const gap = (await this.redis.xrange(K.batchStateEvents(batchId), `(${afterId}`, gapEnd, "COUNT", count)).map(
      parse,
    );
    if (gap.length >= count) return gap;
    return [...gap, ...kept];
  }

  /** State events after `afterId` (exclusive), oldest first (the notifier's read). */
  async stateEvents(batchId: string, afterId: string, count: number): Promise<StoredEvent[]> {
    return (await this.redis.xrange(K.batchStateEvents(batchId), `(${afterId}`, "+", "COUNT", count)).map(parse);
  }

  /**
   * A connection for one process's event reader (blocking reads hold a connection, so
   * they get one of their own). Close it with `disconnect()`.
   */
  readerConnection(): Redis {
    // A blocking reader waits through reconnects whatever its parent's role (the API's fails fast).
    return this.redis.duplicate(ROLE_OPTIONS.worker);
  }

  /** Makes a blocked readMany on the reader connection with this client id return at once. */
  async unblock(clientId: number): Promise<void> {
    await this.redis.client("UNBLOCK", clientId);
  }

  /**
   * Events of many batches after their cursors, blocking up to blockMs on `conn` (from
   * readerConnection). Returns the events per batch id.
   */
  async readMany(conn: Redis, cursors: Map<string, string>, blockMs: number): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    if (cursors.size === 0) return out;
    const ids = [...cursors.keys()];
    const reply = (await conn.xread(
      "COUNT",
      500,
      "BLOCK",
      blockMs,
      "STREAMS",
      ...ids.map((id) => K.batchEvents(id)),
      ...ids.map((id) => cursors.get(id) as string),
    )) as XReadReply;
    const byStream = new Map(ids.map((id) => [K.batchEvents(id), id]));
    for (const [stream, entries] of reply ?? []) {
      const id = byStream.get(stream);
      if (id) out.set(id, entries.map(parse));
    }
    return out;
  }
}
