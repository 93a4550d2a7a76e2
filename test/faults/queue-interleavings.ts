import type { RunningApi } from "@mediaq/api";
import { handBackJobsOf, keyFamilies, repairOutbox } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prng } from "../harness/prng.ts";
import { type SegmentOutcome, type QueueWorld, type StandIns, startQueueWorld } from "./stand-ins.ts";

/**
 * Seeded interleavings of retry x cancel x segment failure x worker death on a long item
 * (issue 21), against a real redis-server, S3 server, BullMQ and the API's retry and cancel.
 * Stand-in workers (stand-ins.ts) hold every segment run until the schedule decides it: it
 * succeeds, fails (transient or bad input), or its worker process dies and the supervisor
 * hands its jobs back. Between steps the system settles. After every schedule: every batch
 * reaches done, its counters equal a recount and add up to its total, and no Redis key of a
 * finished batch, job key or segment record lacks a TTL.
 *
 * INTERLEAVING_SEED replays a run; INTERLEAVING_SCHEDULES sets how many (queue-interleavings.test.ts
 * runs 8, queue-interleavings.slow.ts 60).
 */

const SEED = Number(process.env.INTERLEAVING_SEED ?? Math.floor(Math.random() * 2 ** 31));

const STEPS = 14;
const TENANT = "acme";
const JOB_ATTEMPTS = 2; // test/harness/infra.ts

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Families that must expire once their thing is finished (the rest are kept for good or are indexes). */
const MUST_EXPIRE = [
  keyFamilies.job,
  keyFamilies.waiters,
  keyFamilies.batch,
  keyFamilies.batchItems,
  keyFamilies.batchNames,
  keyFamilies.batchCounts,
  keyFamilies.batchCancelled,
  keyFamilies.batchEvents,
  keyFamilies.segments,
];

export function describeInterleavings(schedules: number) {
  describe(`interleavings of retry, cancel, segment failure and worker death (seed ${SEED})`, () => {
    let world: QueueWorld | undefined;
    let api: RunningApi;
    let w: StandIns;

    beforeAll(async () => {
      world = await startQueueWorld();
      ({ api, w } = world);
      w.holdEvery = true;
    });
    afterAll(async () => {
      await world?.stop();
    });

    const call = async (path: string, method: "POST" | "DELETE") => {
      const res = await fetch(`${api.url}${path}`, { method, headers: { authorization: "Bearer key-acme" } });
      expect(res.status).toBe(200);
    };

    /** Until nothing moves: every segment run a worker holds waits for the schedule, nothing waits to be taken. */
    const settle = async () => {
      let stable = 0;
      for (const end = Date.now() + 5000; Date.now() < end && stable < 3; ) {
        const [items, segments] = await Promise.all([
          w.queue.getJobCounts("active", "waiting", "prioritized"),
          w.segmentQueue.getJobCounts("active", "waiting", "prioritized"),
        ]);
        const n = (c: Record<string, number>, k: string) => c[k] ?? 0;
        const quiet =
          n(items, "active") + n(items, "waiting") + n(items, "prioritized") === 0 &&
          n(segments, "waiting") + n(segments, "prioritized") === 0 &&
          n(segments, "active") === w.held.length;
        stable = quiet ? stable + 1 : 0;
        await sleep(40);
      }
    };

    for (let s = 0; s < schedules; s++) {
      it(`schedule ${s}`, async () => {
        const rng = prng(SEED + s);
        const log: string[] = [];
        const first = await w.submitLong(TENANT);
        const batches = [first.batchId];
        const pick = <T>(xs: T[]) => xs[rng.int(xs.length)] as T;
        try {
          for (let step = 0; step < STEPS; step++) {
            await settle();
            const r = rng.next();
            if (r < 0.45 && w.held.length > 0) {
              const run = w.held.splice(rng.int(w.held.length), 1)[0];
              const o = rng.next();
              const outcome: SegmentOutcome = o < 0.6 ? "ok" : o < 0.8 ? "error" : "bad-input";
              log.push(`${run?.range} ${outcome}`);
              run?.settle(outcome);
            } else if (r < 0.6 && w.held.length > 0) {
              const name = await w.killSegmentWorker();
              const handed = await handBackJobsOf(name, [w.segmentQueue], w.ledger, JOB_ATTEMPTS, {
                dropPieces: (jobKey) => w.ledger.segments.drop(jobKey),
              });
              log.push(`death: ${handed.map((h) => h.outcome).join(",")}`);
            } else if (r < 0.75) {
              const b = pick(batches);
              log.push(`retry ${batches.indexOf(b)}`);
              await call(`/v1/batches/${b}/retry`, "POST");
            } else if (r < 0.85) {
              const b = pick(batches);
              log.push(`cancel ${batches.indexOf(b)}`);
              await call(`/v1/batches/${b}`, "DELETE");
            } else if (batches.length < 3) {
              log.push("submit again");
              batches.push(await w.submitSame(TENANT, first.jobKey));
            }
          }
          // The end of the schedule: runs go on unheld, held ones succeed.
          w.holdEvery = false;
          for (const h of w.held.splice(0)) h.settle("ok");

          for (const b of batches) {
            const done = await waitFor(async () => (await w.ledger.batches.status(b)).done, 20_000);
            expect(done, `batch ${batches.indexOf(b)} done`).toBe(true);
            const status = await w.ledger.batches.status(b);
            expect(await w.ledger.batches.recount(b)).toEqual(status.counts);
            const c = status.counts;
            expect(c.pending + c.running + c.succeeded + c.failed + status.cancelled).toBe(status.total);
          }
          // Deferred outbox entries of finished work are cleared by the next repair.
          await repairOutbox(w.ledger, w.queue, { olderThanMs: Date.now() });
          expect(await w.ledger.connection().zcard(keyFamilies.outbox.key())).toBe(0);
          await expectEveryFinishedKeyExpires(w);
          if (process.env.INTERLEAVING_LOG) console.log(`seed ${SEED + s}: ${log.join("; ")}`);
        } catch (err) {
          throw new Error(`seed ${SEED + s}, steps: ${log.join("; ")}\n${(err as Error).message}`);
        } finally {
          w.holdEvery = true;
        }
      });
    }
  });
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) if (await probe()) return true;
  return probe();
}

/** Every batch is finished here, so each key of the families above must carry a TTL. */
async function expectEveryFinishedKeyExpires(w: StandIns): Promise<void> {
  const redis = w.ledger.connection();
  const lacking: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "mediaq:*", "COUNT", 1000);
    cursor = next;
    for (const key of keys)
      if (MUST_EXPIRE.some((f) => f.pattern.test(key)) && (await redis.ttl(key)) === -1) lacking.push(key);
  } while (cursor !== "0");
  expect(lacking).toEqual([]);
}
