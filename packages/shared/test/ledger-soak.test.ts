import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { createRedis, Ledger } from "../src/index.ts";
import { batchRecord, hex, item, result } from "./ledger-fixtures.ts";

/**
 * Soak: batches are created and finished in a loop (items fail and are retried, progress
 * events, Idempotency-Keys) and Redis memory must level off under `noeviction`: finished
 * batches, their events and job states expire, keys expire. The retention is one second
 * here so that expiry happens within the test; the code path is the one BATCH_RETENTION_DAYS
 * drives. Results stay by design (docs/architecture.md#retention), so the work repeats over
 * a fixed set of job keys, as re-submitted batches do.
 */

const ROUNDS = Number(process.env.LEDGER_SOAK_ROUNDS ?? 300);
const ITEMS = 25;

describe("ledger soak", () => {
  let infra: TestInfra;
  let redis: Redis;

  beforeAll(async () => {
    infra = await startInfra();
    redis = createRedis(infra.config);
  });
  afterAll(async () => {
    redis?.disconnect();
    await infra?.stop();
  });

  it(`levels off over ${ROUNDS} batches created and finished in a loop`, async () => {
    const ledger = new Ledger(redis, { batchRetentionSeconds: 1, idempotencyTtlSeconds: 1 });
    const pool = Array.from({ length: 60 }, () => hex());
    const samples: { round: number; keys: number; bytes: number }[] = [];
    const sample = async (round: number) => {
      const memory = await redis.info("memory");
      samples.push({
        round,
        keys: await redis.dbsize(),
        bytes: Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0),
      });
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const id = `soak-${round}-${hex().slice(0, 6)}`;
      const keys = Array.from({ length: ITEMS }, (_, i) => pool[(round * 7 + i * 13) % pool.length] as string);
      await ledger.batches.create(
        batchRecord(id),
        keys.map((k, i) => item(`clip-${i}`, k)),
        { key: `req-${round}`, fingerprint: hex() },
      );
      // A third of the runs fail first (a transient error), then the batch is retried and
      // they succeed: every batch finishes, as batches do.
      for (const [i, k] of keys.entries()) {
        if ((await ledger.jobs.start(k)) !== "started") continue;
        await ledger.events.publishForJob(k, { type: "progress", jobKey: k, stage: "infer", done: 1, total: 2 });
        if ((round + i) % 3 === 0) await ledger.jobs.transition(k, "failed", "transient");
        else await ledger.jobs.recordResult(result(k, `outputs/${k}/a/output.mp4`, "0".repeat(64), 1000));
      }
      await ledger.batches.retry(id);
      for (const k of keys)
        if ((await ledger.jobs.start(k)) === "started")
          await ledger.jobs.recordResult(result(k, `outputs/${k}/a/output.mp4`, "0".repeat(64), 1000));
      expect((await ledger.batches.status(id)).done).toBe(true);
      if (round % 20 === 0) await sample(round);
      // Paced so that a second passes every few dozen rounds: expiry has time to act.
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 2500));
    await sample(ROUNDS + 1);
    console.log(`ledger soak: ${JSON.stringify(samples)}`);

    // Without expiry every round would leave its batch (record, items, names, counters,
    // events, idempotency key): about 6 keys a round.
    const third = samples[Math.floor(samples.length / 3)] as (typeof samples)[0];
    const last = samples.at(-1) as (typeof samples)[0];
    const peakAfterThird = Math.max(...samples.slice(Math.floor(samples.length / 3)).map((s) => s.keys));
    expect(peakAfterThird).toBeLessThan(third.keys + 6 * 20);
    // Once the loop stops, what is left is the results and job states of the pool.
    expect(last.keys).toBeLessThanOrEqual(pool.length * 3 + 5);
    const peakBytes = Math.max(...samples.slice(Math.floor(samples.length / 3)).map((s) => s.bytes));
    expect(peakBytes).toBeLessThan(third.bytes * 1.5);
  }, 300_000);
});
