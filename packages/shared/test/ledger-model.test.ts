import type { S3Client } from "@aws-sdk/client-s3";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { prng } from "../../../test/harness/prng.ts";
import {
  type BatchItem,
  type Counts,
  createInferenceQueue,
  createRedis,
  createS3,
  ensureBucket,
  getObjectStream,
  type InferenceJob,
  ITEM_STATES,
  type ItemState,
  Ledger,
  type PackageState,
  objectKeys,
  putStream,
  queueAttached,
  queueOutbox,
  recordOutput,
  redisKeys,
  repairOutbox,
  sha256Hex,
  inferenceJobFor,
} from "../src/index.ts";
import { batchRecord, hex, item, result } from "./ledger-fixtures.ts";

/**
 * Model-based test of the ledger: random interleavings of submit, append, cancel, retry,
 * worker start, complete, fail, hand-back, a second run of the same job, crashes between
 * the ledger write and the queue write (submit) or between upload and record (worker),
 * outbox repair and package requests, on a real redis-server and S3 server. After every
 * step the ledger is checked against a reference model: counters equal a recount, none is
 * negative, `done` holds exactly when all live items are terminal, no idempotency key
 * points nowhere, every recorded result's object exists with that sha256.
 *
 * LEDGER_MODEL_SEED replays a run; LEDGER_MODEL_OPS sets its length (default 10,000).
 */

const SEED = Number(process.env.LEDGER_MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPS = Number(process.env.LEDGER_MODEL_OPS ?? 10_000);
const JOB_POOL = 14;
const MAX_BATCHES = 120;

interface MJob {
  state?: ItemState;
  result?: { key: string; sha256: string };
}
interface MBatch {
  id: string;
  items: { jobKey: string; cancelled: boolean }[];
  nextName: number;
}
interface Attempt {
  jobKey: string;
  key: string;
  bytes: Buffer;
}

describe("ledger model", () => {
  let infra: TestInfra;
  let redis: Redis;
  let s3: S3Client;
  let queue: Queue<InferenceJob>;
  let ledger: Ledger;
  let bucket: string;

  beforeAll(async () => {
    infra = await startInfra();
    redis = createRedis(infra.config);
    s3 = createS3(infra.config);
    bucket = infra.config.S3_BUCKET;
    await ensureBucket(s3, bucket);
    queue = createInferenceQueue(redis, infra.config);
    ledger = new Ledger(redis);
  });
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    s3?.destroy();
    await infra?.stop();
  });

  it(`keeps the ledger equal to its model over ${OPS} random operations (seed ${SEED})`, async () => {
    console.log(`ledger model: seed ${SEED}, ${OPS} operations; replay with LEDGER_MODEL_SEED=${SEED}`);
    const rnd = prng(SEED);
    const pool = Array.from({ length: JOB_POOL }, () => hex());
    const jobs = new Map<string, MJob>(pool.map((k) => [k, {}]));
    const batches: MBatch[] = [];
    const idem = new Map<string, { batchId: string; body: string[] }>();
    /** Job keys a queue job exists for (written by the API's queue step). */
    const queued = new Set<string>();
    /** Runs in flight: started by a worker, not finished. */
    const active: Attempt[] = [];
    const packages = new Map<string, { state: PackageState; buildId: string }>();
    const tally: Record<string, number> = {};

    const liveWaiters = (jobKey: string) =>
      batches.reduce((n, b) => n + b.items.filter((i) => i.jobKey === jobKey && !i.cancelled).length, 0);
    const modelCounts = (b: MBatch): Counts => {
      const c = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Counts;
      for (const i of b.items) {
        if (i.cancelled) continue;
        const state = jobs.get(i.jobKey)?.state;
        if (!state) throw new Error(`model: live item of ${b.id} on ${i.jobKey} has no state`);
        c[state]++;
      }
      return c;
    };
    const job = (k: string) => jobs.get(k) as MJob;
    /** The model's attach: as the ledger decides the state an item starts in. */
    const attach = (b: MBatch, jobKey: string): boolean => {
      const j = job(jobKey);
      let enqueue = false;
      if (j.result) j.state = "succeeded";
      else if (!j.state || j.state === "failed") {
        j.state = "pending";
        enqueue = true;
      }
      b.items.push({ jobKey, cancelled: false });
      return enqueue;
    };
    const newItems = (b: MBatch, n: number) =>
      Array.from({ length: n }, () => item(`i${b.nextName++}`, rnd.pick(pool) as string));
    /** Marks the outbox entries' job keys queued (the queue step ran). */
    const markQueued = (entries: string[], items: BatchItem[], firstIndex: number) => {
      for (const e of entries) queued.add((items[Number(e.split(":")[1]) - firstIndex] as BatchItem).jobKey);
    };

    const ops: [number, string, () => Promise<{ batches: MBatch[]; jobKeys: string[] }>][] = [
      [
        14,
        "submit",
        async () => {
          if (batches.length >= MAX_BATCHES) return { batches: [], jobKeys: [] };
          const reuse = rnd.chance(0.15) ? rnd.pick([...idem.keys()]) : undefined;
          if (reuse) {
            // The same key again: with the same body (a replay) or another one (a mismatch).
            const bound = idem.get(reuse) as { batchId: string; body: string[] };
            const same = rnd.chance(0.5);
            const body = same ? bound.body : [...bound.body, "x"];
            const items = body.map((k, i) => item(`i${i}`, k));
            const outcome = await ledger.batches.create(batchRecord(`m${hex().slice(0, 10)}`), items, {
              key: reuse,
              fingerprint: sha256Hex(JSON.stringify(body)),
            });
            expect(outcome).toEqual({ kind: same ? "replay" : "mismatch", id: bound.batchId });
            return { batches: [], jobKeys: [] };
          }
          const b: MBatch = { id: `m${batches.length}-${hex().slice(0, 8)}`, items: [], nextName: 0 };
          const items = newItems(b, 1 + rnd.int(4));
          const key = rnd.chance(0.3) ? `k${hex().slice(0, 8)}` : undefined;
          const body = items.map((i) => i.jobKey);
          const record = batchRecord(b.id);
          const outcome = await ledger.batches.create(
            record,
            items,
            key ? { key, fingerprint: sha256Hex(JSON.stringify(body)) } : undefined,
          );
          if (outcome.kind !== "created") throw new Error(`submit: ${outcome.kind}`);
          batches.push(b);
          if (key) idem.set(key, { batchId: b.id, body });
          const expected = items.map((i) => attach(b, i.jobKey));
          expect(outcome.states.map((s) => s.enqueue)).toEqual(expected);
          // Crash between the ledger write and the queue write: the outbox keeps the entries.
          if (!rnd.chance(0.1)) {
            await queueAttached(ledger, queue, record, items, outcome);
            markQueued(outcome.outbox, items, outcome.firstIndex);
          }
          return { batches: [b], jobKeys: body };
        },
      ],
      [
        7,
        "append",
        async () => {
          const b = rnd.pick(batches);
          if (!b) return { batches: [], jobKeys: [] };
          const items = newItems(b, 1 + rnd.int(3));
          const outcome = await ledger.batches.append(b.id, items);
          if (outcome.kind !== "appended") throw new Error(`append: ${outcome.kind}`);
          const expected = items.map((i) => attach(b, i.jobKey));
          expect(outcome.states.map((s) => s.enqueue)).toEqual(expected);
          if (!rnd.chance(0.1)) {
            await queueAttached(ledger, queue, batchRecord(b.id), items, outcome);
            markQueued(outcome.outbox, items, outcome.firstIndex);
          }
          return { batches: [b], jobKeys: items.map((i) => i.jobKey) };
        },
      ],
      [
        5,
        "cancel",
        async () => {
          const b = rnd.pick(batches);
          if (!b) return { batches: [], jobKeys: [] };
          const touched = new Set<string>();
          let cancelled = 0;
          for (const i of b.items)
            if (!i.cancelled && job(i.jobKey).state === "pending") {
              i.cancelled = true;
              cancelled++;
              touched.add(i.jobKey);
            }
          const orphaned = [...touched].filter((k) => liveWaiters(k) === 0);
          for (const k of orphaned) {
            job(k).state = undefined;
            queued.delete(k); // the API removes the queue job
          }
          const got = await ledger.batches.cancel(b.id);
          expect(got.cancelled).toBe(cancelled);
          expect(new Set(got.orphaned)).toEqual(new Set(orphaned));
          return { batches: batches.filter((x) => x.items.some((i) => touched.has(i.jobKey))), jobKeys: [...touched] };
        },
      ],
      [
        5,
        "retry",
        async () => {
          const b = rnd.pick(batches);
          if (!b) return { batches: [], jobKeys: [] };
          const failed = new Set(
            b.items.filter((i) => !i.cancelled && job(i.jobKey).state === "failed").map((i) => i.jobKey),
          );
          const retried = b.items.filter((i) => !i.cancelled && failed.has(i.jobKey)).length;
          for (const k of failed) job(k).state = "pending";
          const got = await ledger.batches.retry(b.id);
          expect(got.retried).toBe(retried);
          const jobsToQueue = got.outbox.map((entry) => {
            const index = Number(entry.split(":")[1]);
            const i = b.items[index] as MBatch["items"][0];
            return { entry, job: inferenceJobFor(batchRecord(b.id), item(`i${index}`, i.jobKey)) };
          });
          expect(new Set(jobsToQueue.map((j) => j.job.jobKey))).toEqual(failed);
          await queueOutbox(ledger, queue, jobsToQueue);
          for (const k of failed) queued.add(k);
          return { batches: batches.filter((x) => x.items.some((i) => failed.has(i.jobKey))), jobKeys: [...failed] };
        },
      ],
      [
        20,
        "start",
        async () => {
          const k = rnd.pick([...queued]);
          if (!k) return { batches: [], jobKeys: [] };
          const j = job(k);
          const expected = j.result ? "done" : !j.state || liveWaiters(k) === 0 ? "orphan" : "started";
          expect(await ledger.jobs.start(k)).toBe(expected);
          queued.delete(k);
          if (expected === "started") {
            j.state = "running";
            active.push({
              jobKey: k,
              key: objectKeys.attemptOutput(k, hex().slice(0, 8), "out"),
              bytes: Buffer.from(hex()),
            });
          }
          return { batches: batches.filter((b) => b.items.some((i) => i.jobKey === k)), jobKeys: [k] };
        },
      ],
      [
        3,
        "second run",
        async () => {
          // The worker lost its lock: BullMQ gives the same job to another worker.
          const a = rnd.pick(active);
          if (!a) return { batches: [], jobKeys: [] };
          const j = job(a.jobKey);
          const expected = j.result ? "done" : !j.state || liveWaiters(a.jobKey) === 0 ? "orphan" : "started";
          expect(await ledger.jobs.start(a.jobKey)).toBe(expected);
          if (expected === "started") {
            j.state = "running";
            active.push({
              jobKey: a.jobKey,
              key: objectKeys.attemptOutput(a.jobKey, hex().slice(0, 8), "out"),
              bytes: Buffer.from(hex()),
            });
          }
          return { batches: batches.filter((b) => b.items.some((i) => i.jobKey === a.jobKey)), jobKeys: [a.jobKey] };
        },
      ],
      [
        16,
        "complete",
        async () => {
          const a = active.splice(rnd.int(active.length), 1)[0];
          if (!a) return { batches: [], jobKeys: [] };
          await putStream(s3, { bucket, key: a.key, body: a.bytes });
          if (rnd.chance(0.1)) {
            // The worker dies after uploading, before recording: the job stalls and runs again.
            if (!active.some((x) => x.jobKey === a.jobKey)) queued.add(a.jobKey);
            return { batches: [], jobKeys: [] };
          }
          const j = job(a.jobKey);
          const sha = sha256Hex(a.bytes);
          const got = await recordOutput(ledger, s3, bucket, result(a.jobKey, a.key, sha, a.bytes.length));
          if (j.result) expect(got).toEqual({ recorded: false, key: j.result.key });
          else {
            expect(got).toEqual({ recorded: true, key: a.key });
            j.result = { key: a.key, sha256: sha };
          }
          j.state = "succeeded";
          return { batches: batches.filter((b) => b.items.some((i) => i.jobKey === a.jobKey)), jobKeys: [a.jobKey] };
        },
      ],
      [
        8,
        "fail",
        async () => {
          const a = active.splice(rnd.int(active.length), 1)[0];
          if (!a) return { batches: [], jobKeys: [] };
          const j = job(a.jobKey);
          // Exhausted attempts fail the job; otherwise BullMQ retries it (pending again).
          const to: ItemState = rnd.chance(0.5) ? "failed" : "pending";
          const moved = await ledger.jobs.transition(a.jobKey, to, "boom");
          const expectMove = !!j.state && j.state !== to && j.state !== "succeeded";
          expect(moved).toBe(expectMove);
          if (expectMove) j.state = j.result ? "succeeded" : to;
          if (to === "pending" && !active.some((x) => x.jobKey === a.jobKey)) queued.add(a.jobKey);
          return { batches: batches.filter((b) => b.items.some((i) => i.jobKey === a.jobKey)), jobKeys: [a.jobKey] };
        },
      ],
      [
        2,
        "worker crash",
        async () => {
          // Dies mid-run before any upload: the job stalls (stays running) and BullMQ re-runs it.
          const a = active.splice(rnd.int(active.length), 1)[0];
          if (a && !active.some((x) => x.jobKey === a.jobKey)) queued.add(a.jobKey);
          return { batches: [], jobKeys: a ? [a.jobKey] : [] };
        },
      ],
      [
        3,
        "repair outbox",
        async () => {
          // The next call after a crash: entries still pending get their queue jobs.
          const entries = await ledger.batches.outboxBefore(Date.now());
          await repairOutbox(ledger, queue, { olderThanMs: Date.now() });
          for (const e of entries) if (job(e.item.jobKey).state === "pending") queued.add(e.item.jobKey);
          expect(await redis.zcard(redisKeys.outbox)).toBe(0);
          return { batches: [], jobKeys: [] };
        },
      ],
      [
        5,
        "package",
        async () => {
          const b = rnd.pick(batches);
          if (!b) return { batches: [], jobKeys: [] };
          const id = `pkg-${b.id}`;
          const m = packages.get(id);
          const now = Date.now();
          const got = await ledger.packages.request({
            id,
            tenant: "acme",
            batchId: b.id,
            partSize: 1,
            createdAt: new Date(now).toISOString(),
            expiresAt: new Date(now + 600_000).toISOString(),
            state: "queued",
            parts: [],
          });
          if (m && m.state !== "failed") expect(got).toEqual({ state: m.state, buildId: m.buildId });
          else {
            expect(got.state).toBe("queued");
            expect(got.buildId).not.toBe(m?.buildId);
          }
          // Then the packager moves it on, or the record expires.
          const next = rnd.pick(["building", "ready", "failed", "expired", "stay"] as const) ?? "stay";
          if (next === "expired") {
            await redis.del(redisKeys.package(id));
            packages.delete(id);
          } else {
            const state = next === "stay" ? got.state : next;
            await ledger.packages.update(id, { state });
            packages.set(id, { state, buildId: got.buildId });
          }
          expect((await ledger.packages.get(id))?.state).toBe(packages.get(id)?.state);
          return { batches: [], jobKeys: [] };
        },
      ],
    ];
    const totalWeight = ops.reduce((s, [w]) => s + w, 0);
    const pickOp = () => {
      let r = rnd.next() * totalWeight;
      for (const op of ops) {
        r -= op[0];
        if (r < 0) return op;
      }
      return ops[0] as (typeof ops)[0];
    };

    /** Every step: the invariants over all batches, the model in detail where the step went. */
    const check = async (step: number, name: string, touched: { batches: MBatch[]; jobKeys: string[] }) => {
      const where = `step ${step} (${name}), seed ${SEED}`;
      const pipe = redis.pipeline();
      for (const b of batches) pipe.hmget(redisKeys.batchCounts(b.id), ...ITEM_STATES);
      const idemKeys = [...idem.keys()];
      for (const k of idemKeys) pipe.hget(redisKeys.idempotency("acme", k), "batch");
      const replies = (await pipe.exec()) ?? [];
      batches.forEach((b, i) => {
        const raw = replies[i]?.[1] as (string | null)[];
        const stored = Object.fromEntries(ITEM_STATES.map((s, j) => [s, Number(raw[j] ?? 0)])) as Counts;
        for (const s of ITEM_STATES) if (stored[s] < 0) throw new Error(`${where}: ${b.id} ${s} is ${stored[s]}`);
        // expect() only on a difference: thousands of passing expects per step cost seconds.
        const model = modelCounts(b);
        if (ITEM_STATES.some((s) => stored[s] !== model[s]))
          expect(stored, `${where}: counters of ${b.id}`).toEqual(model);
      });
      const existing = new Set(batches.map((b) => b.id));
      idemKeys.forEach((k, i) => {
        const bound = replies[batches.length + i]?.[1] as string | null;
        if (!bound || !existing.has(bound)) throw new Error(`${where}: idempotency key ${k} points at ${bound}`);
      });
      // Item-level recount of a few batches the step touched (all batches' counters were checked above).
      for (const b of touched.batches.slice(0, 1).concat(rnd.pick(touched.batches.slice(1)) ?? [])) {
        const status = await ledger.batches.status(b.id);
        const live = b.items.filter((i) => !i.cancelled);
        const allTerminal = live.every((i) => ["succeeded", "failed"].includes(job(i.jobKey).state as string));
        expect(status.done, `${where}: done of ${b.id}`).toBe(allTerminal);
        expect(await ledger.batches.recount(b.id), `${where}: recount of ${b.id}`).toEqual(modelCounts(b));
      }
      for (const k of new Set(touched.jobKeys)) {
        expect((await ledger.jobs.state(k)).state, `${where}: state of ${k}`).toBe(job(k).state);
        const recorded = await ledger.jobs.getResult(k);
        expect(recorded?.key, `${where}: result of ${k}`).toBe(job(k).result?.key);
        if (recorded && name === "complete")
          expect(await objectSha(recorded.key), `${where}: object of ${k}`).toBe(recorded.sha256);
      }
    };
    const objectSha = async (key: string) => {
      const chunks: Buffer[] = [];
      for await (const c of await getObjectStream(s3, bucket, key)) chunks.push(c as Buffer);
      return sha256Hex(Buffer.concat(chunks));
    };

    for (let step = 1; step <= OPS; step++) {
      const [, name, run] = pickOp();
      tally[name] = (tally[name] ?? 0) + 1;
      await check(step, name, await run());
    }
    // Every recorded result's object exists with that sha256.
    for (const [k, j] of jobs) {
      const recorded = await ledger.jobs.getResult(k);
      expect(recorded?.key).toBe(j.result?.key);
      if (recorded) expect(await objectSha(recorded.key)).toBe(recorded.sha256);
    }
    console.log(`ledger model: ${batches.length} batches; operations ${JSON.stringify(tally)}`);
    expect(Object.values(tally).reduce((a, b) => a + b, 0)).toBe(OPS);
  }, 600_000);
});
