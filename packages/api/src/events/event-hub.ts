import type { EventLedger, Logger, StoredEvent } from "@mediaq/shared";
import type { Redis } from "ioredis";

type Deliver = (events: StoredEvent[]) => void;

interface Subscriber {
  deliver: Deliver;
  /** Id of the last event this subscriber got. */
  lastId: string;
  /** Live events that came while its backlog was read. */
  buffer?: StoredEvent[];
}

/** Orders Redis stream ids ("<ms>-<seq>"). */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split("-").map((x) => BigInt(x));
  const [bm = 0n, bs = 0n] = b.split("-").map((x) => BigInt(x));
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/**
 * One reader of batch event streams per API process: a single connection blocks on every
 * stream some client follows and fans the events out, so open SSE clients cost no Redis
 * connections (docs/architecture.md#events).
 */
export class EventHub {
  private readonly subs = new Map<string, Set<Subscriber>>();
  /** Per batch: id of the last event the reader took. */
  private readonly cursors = new Map<string, string>();
  private conn: Redis | undefined;
  private connId: number | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  private readonly events: EventLedger;
  private readonly log: Logger;
  private readonly blockMs: number;

  constructor(events: EventLedger, log: Logger, blockMs: number = 1_000) {
    this.events = events;
    this.log = log;
    this.blockMs = blockMs;
  }

  /** Id of the newest event of a batch ("0" when none): where a new client starts. */
  newestId(batchId: string): Promise<string> {
    return this.events.newestId(batchId);
  }

  /** Streams that have subscribers (for tests and metrics). */
  get streams(): number {
    return this.subs.size;
  }

  /**
   * Follows a batch's events after `fromId` (exclusive): first the kept backlog, then live
   * events, each once and in order. Returns the unsubscribe function.
   */
  async subscribe(batchId: string, fromId: string, deliver: Deliver): Promise<() => void> {
    const sub: Subscriber = { deliver, lastId: fromId, buffer: [] };
    let set = this.subs.get(batchId);
    if (!set) {
      set = new Set();
      this.subs.set(batchId, set);
      this.cursors.set(batchId, await this.events.newestId(batchId));
      await this.wake();
    }
    set.add(sub);
    const unsubscribe = () => {
      const s = this.subs.get(batchId);
      if (!s?.delete(sub) || s.size > 0) return;
      this.subs.delete(batchId);
      this.cursors.delete(batchId);
    };
    try {
      // Backlog up to now; live events that arrive meanwhile wait in the buffer.
      for (;;) {
        const page = await this.events.range(batchId, sub.lastId);
        this.send(sub, page);
        if (page.length < 1000) break;
      }
      const buffered = sub.buffer ?? [];
      sub.buffer = undefined;
      this.send(sub, buffered);
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.conn?.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private send(sub: Subscriber, events: StoredEvent[]): void {
    const fresh = events.filter((e) => compareIds(e.id, sub.lastId) > 0);
    if (fresh.length === 0) return;
    sub.lastId = fresh[fresh.length - 1]?.id as string;
    sub.deliver(fresh);
  }

  /** Starts the reader, or makes a blocked read return so it includes a new stream. */
  private async wake(): Promise<void> {
    if (this.closed) return;
    if (!this.loop) {
      this.conn = this.events.readerConnection();
      this.connId = Number(await this.conn.client("ID"));
      this.loop = this.run();
      return;
    }
    if (this.connId !== undefined) await this.events.unblock(this.connId);
  }

  private async run(): Promise<void> {
    const conn = this.conn as Redis;
    while (!this.closed) {
      if (this.cursors.size === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      try {
        const read = await this.events.readMany(conn, new Map(this.cursors), this.blockMs);
        for (const [batchId, events] of read) {
          const last = events[events.length - 1];
          if (!last || !this.cursors.has(batchId)) continue;
          this.cursors.set(batchId, last.id);
          for (const sub of this.subs.get(batchId) ?? []) {
            if (sub.buffer) sub.buffer.push(...events);
            else this.send(sub, events);
          }
        }
      } catch (err) {
        if (this.closed) break;
        // UNBLOCK ... ERROR is not used; any other failure: log, pause, go on.
        this.log.warn({ err }, "event reader failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
}
