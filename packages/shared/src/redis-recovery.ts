import type { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { Counter } from "prom-client";
import type { Logger } from "./logger.ts";

/**
 * A service runtime that can be thrown away and built again: its Redis connections (its own
 * and its BullMQ workers' blocking ones), what to run when they come back, and how to end it.
 * See docs/architecture.md#redis-failover.
 */
export interface Rebuildable {
  /** Every Redis client the runtime depends on. */
  connections(): Promise<Redis[]>;
  /** The connections are back after a disconnect: run the checks a failover calls for now. */
  reconnected(): void;
  /** Stops it as usual (may wait for Redis). */
  close(): Promise<void>;
  /** Drops its connections at once: after a close that did not finish in time. */
  disconnect(): void;
}

/** The counter of rebuilds; one per process, registered into each runtime's registry. */
export function createRebuildCounter(): Counter {
  return new Counter({
    name: "mediaq_redis_rebuilds_total",
    help: "Times a Redis connection stayed not ready past REDIS_RECOVERY_SECONDS and the service rebuilt its connections and workers",
    registers: [],
  });
}

/** The blocking client BullMQ made for a worker (not reachable through the public types). */
export async function blockingClientOf(worker: Worker<never, unknown> | Worker): Promise<Redis | undefined> {
  const backend = worker.getBackend() as unknown as { blockingConnection?: { client: Promise<Redis> } };
  return backend.blockingConnection ? await backend.blockingConnection.client : undefined;
}

export interface WatchOptions {
  /** How long a client may stay not ready after it lost its connection. */
  boundMs: number;
  /** Once every client is ready again after a disconnect. */
  onReconnect(): void;
  /** A client stayed not ready past boundMs (called once; the watch then stops). */
  onStall(stuck: { status: string; notReadyMs: number }[]): void;
  pollMs?: number;
}

/**
 * Polls the clients' status. Polling rather than events: a client parked in a terminal or
 * stuck state (BullMQ #4378, #3088) emits nothing more, and that is the case to catch.
 */
export function watchClients(clients: Redis[], o: WatchOptions): { stop(): void } {
  const since = new Map<Redis, number>();
  let disconnected = false;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const c of clients) {
      if (c.status === "ready") since.delete(c);
      else if (!since.has(c)) since.set(c, now);
    }
    if (since.size > 0) disconnected = true;
    const stuck = [...since].filter(([, t]) => now - t > o.boundMs);
    if (stuck.length > 0) {
      clearInterval(timer);
      o.onStall(stuck.map(([c, t]) => ({ status: c.status, notReadyMs: now - t })));
      return;
    }
    if (disconnected && since.size === 0) {
      disconnected = false;
      o.onReconnect();
    }
  }, o.pollMs ?? 250);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export interface KeepConnectedOptions {
  boundMs: number;
  log: Logger;
  rebuilds: Counter;
  /** How long the old runtime may take to close before its connections are dropped. */
  closeTimeoutMs?: number;
}

export interface KeptRuntime<T> {
  current(): T;
  close(): Promise<void>;
}

/**
 * Runs a service runtime and rebuilds it when one of its connections does not come back to
 * ready within the bound after a disconnect: no silent stall (docs/architecture.md#redis-failover).
 * On every reconnect the runtime's `reconnected` runs (stalled-job checks at once).
 */
export async function keepConnected<T extends Rebuildable>(
  start: () => Promise<T>,
  o: KeepConnectedOptions,
): Promise<KeptRuntime<T>> {
  let runtime = await start();
  let watch: { stop(): void } | undefined;
  let stopped = false;
  let rebuilding: Promise<void> | undefined;

  const arm = async () => {
    const clients = await runtime.connections();
    if (stopped) return;
    watch = watchClients(clients, {
      boundMs: o.boundMs,
      onReconnect: () => {
        o.log.info("Redis connections ready again: checking for stalled jobs now");
        runtime.reconnected();
      },
      onStall: (stuck) => {
        rebuilding = rebuild(stuck);
      },
    });
  };

  const rebuild = async (stuck: { status: string; notReadyMs: number }[]) => {
    o.rebuilds.inc();
    o.log.warn(
      { stuck, boundMs: o.boundMs },
      "a Redis connection is not ready long after a disconnect: rebuilding the connections and workers",
    );
    const old = runtime;
    const closed = old.close().catch((err) => o.log.warn({ err }, "closing the stalled runtime failed"));
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), o.closeTimeoutMs ?? 10_000).unref()),
    ]);
    if (timedOut) o.log.warn("the stalled runtime did not close in time; dropping its connections");
    old.disconnect();
    for (let attempt = 1; !stopped; attempt++) {
      try {
        runtime = await start();
        break;
      } catch (err) {
        o.log.error({ err, attempt }, "rebuild failed; trying again");
        await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 10_000)));
      }
    }
    if (!stopped) {
      o.log.info("rebuilt the Redis connections and workers");
      await arm();
    }
  };

  await arm();
  return {
    current: () => runtime,
    async close() {
      stopped = true;
      watch?.stop();
      await rebuilding?.catch(() => undefined);
      await runtime.close();
    },
  };
}
