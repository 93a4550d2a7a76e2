import { freePort } from "@mediaq/cli/embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxItems, type FaultStack, startFaultStack, until } from "./helpers.ts";

/**
 * No silent stall (docs/architecture.md#redis-failover): a worker whose Redis connection is
 * not ready REDIS_RECOVERY_SECONDS after a disconnect rebuilds its connections and BullMQ
 * workers, logs it and counts it; then it takes work again.
 */
describe("a worker whose Redis stays away past REDIS_RECOVERY_SECONDS", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("rebuilds its connections and workers (logged, mediaq_redis_rebuilds_total 1) and runs the next batch", async () => {
    const metricsPort = await freePort();
    const worker = await stack.spawnWorker("rebuilt", {
      REDIS_RECOVERY_SECONDS: "2",
      METRICS_PORT: String(metricsPort),
    });
    const rebuilds = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(/^mediaq_redis_rebuilds_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
    };
    expect(await rebuilds()).toBe(0);

    // Redis away for 5 s: longer than the 2 s bound.
    await stack.crashRedis(5000);
    await until("the rebuild to be logged", async () => worker.logs().includes("rebuilding the connections"), 20_000);
    await until(
      "the worker to be rebuilt",
      async () => worker.logs().includes("rebuilt the Redis connections"),
      40_000,
    );
    expect(await rebuilds()).toBe(1);

    const { batchId } = await stack.submit(boxItems(3, "after-rebuild"));
    expect(await stack.waitDone(batchId, 60_000)).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0 });
    expect(worker.child.exitCode, worker.logs().slice(-3000)).toBeNull();
  });
});
