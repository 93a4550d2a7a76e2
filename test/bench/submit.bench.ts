/**
 * What a batch submit costs (`pnpm bench submit`): a 10,000-item POST /v1/batches through the
 * API against raw BullMQ addBulk of 10,000 jobs in the same run and Redis (goal: at most 2x),
 * the Redis round trips and bytes per item it takes, and a re-submit of the finished batch
 * (goal: under 1 s).
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { startApi } from "@mediaq/api";
import {
  createInferenceQueue,
  createRedis,
  type InferenceJob,
  Ledger,
  QUEUES,
  redisKeys,
  toBatchItem,
} from "@mediaq/shared";
import { startInfra } from "../harness/infra.ts";

type Redis = ReturnType<typeof createRedis>;

const ITEMS = Number(process.env.BENCH_SUBMIT_ITEMS ?? 10_000);
const TENANT = "bench";
const MODEL = "d".repeat(64);

/** Counts what a client sends: writes to its socket (one per command, or per pipeline/MULTI). */
function countWrites(redis: Redis): { writes: () => number } {
  let writes = 0;
  const socket = (redis as unknown as { stream: Socket }).stream;
  const write = socket.write.bind(socket);
  socket.write = ((...args: Parameters<Socket["write"]>) => {
    writes++;
    return write(...args);
  }) as Socket["write"];
  return { writes: () => writes };
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? 0);

/** Bytes Redis holds for the given keys (MEMORY USAGE, exact). */
async function keyBytes(redis: Redis, keys: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    const pipe = redis.pipeline();
    for (const k of keys.slice(i, i + 1000)) pipe.memory("USAGE", k, "SAMPLES", "0");
    for (const [, n] of (await pipe.exec()) ?? []) total += Number(n ?? 0);
  }
  return total;
}

export default async function bench(): Promise<void> {
  const infra = await startInfra({
    env: {
      LOG_LEVEL: "silent",
      API_KEYS: `${TENANT}:bench-key`,
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      RATE_LIMIT_PER_MINUTE: "0",
      MAX_JSON_BODY_BYTES: String(64 * 1024 ** 2),
    },
  });
  const api = await startApi(infra.config);
  const redis = createRedis(infra.config);
  const ledger = new Ledger(redis);
  const call = (p: string, body: unknown) =>
    fetch(api.url + p, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { authorization: "Bearer bench-key", "content-type": "application/json" },
    });
  try {
    // Setup (not timed): a model and 10,000 distinct inputs the tenant holds.
    await ledger.assets.setModel(TENANT, { tag: "bench", sha256: MODEL, adapter: "wav2lip" });
    const items = Array.from({ length: ITEMS }, (_, i) => ({
      name: `clip-${i}.mp4`,
      inputs: { video: randomBytes(32).toString("hex"), audio: randomBytes(32).toString("hex") },
    }));
    const grants = redis.pipeline();
    for (const i of items) grants.sadd(redisKeys.tenantBlobs(TENANT), i.inputs.video, i.inputs.audio);
    await grants.exec();

    // Baseline: raw BullMQ addBulk of the same number of jobs with the same payloads.
    const baselineQueue = createInferenceQueue(redis, { ...infra.config, QUEUE_PREFIX: "baseline" });
    const scope = { scope: TENANT, modelSha256: MODEL, adapter: "wav2lip" as const };
    const jobs: InferenceJob[] = items.map((i) => {
      const item = toBatchItem(scope, i);
      return {
        jobKey: item.jobKey,
        tenant: TENANT,
        model: { sha256: MODEL, adapter: "wav2lip" },
        inputs: item.inputs,
        params: item.params,
      };
    });
    const memBeforeBaseline = await usedMemory(redis);
    let t = performance.now();
    await baselineQueue.addBulk(jobs.map((data) => ({ name: QUEUES.inference, data, opts: { jobId: data.jobKey } })));
    const baselineMs = performance.now() - t;
    const baselineBytes = (await usedMemory(redis)) - memBeforeBaseline;
    await baselineQueue.obliterate({ force: true });
    await baselineQueue.close();

    // The submit through the API: HTTP, validation, job keys, ledger script, queue writes.
    const apiRedis = api.deps.ledger.connection();
    const sent = countWrites(apiRedis);
    const memBefore = await usedMemory(redis);
    const writesBefore = sent.writes();
    t = performance.now();
    const res = await call("/v1/batches", { model: "bench", items });
    const submitMs = performance.now() - t;
    if (res.status !== 201) throw new Error(`submit: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const writes = sent.writes() - writesBefore;
    const submitBytes = (await usedMemory(redis)) - memBefore;
    const { id } = (await res.json()) as { id: string };
    const jobKeys = jobs.map((j) => j.jobKey);
    const ledgerKeys = [
      redisKeys.batch(id),
      redisKeys.batchItems(id),
      redisKeys.batchNames(id),
      redisKeys.batchCounts(id),
      ...jobKeys.flatMap((k) => [redisKeys.job(k), redisKeys.waiters(k)]),
    ];
    const ledgerBytes = await keyBytes(redis, ledgerKeys);

    // Finish every item (as workers would), then submit the same items again.
    for (let i = 0; i < jobKeys.length; i += 500)
      await Promise.all(
        jobs.slice(i, i + 500).map(async (j) => {
          await ledger.jobs.start(j.jobKey);
          await ledger.jobs.recordResult({
            jobKey: j.jobKey,
            key: `outputs/${j.jobKey}/a/output.mp4`,
            sha256: "0".repeat(64),
            size: 1,
            model: MODEL,
            adapter: "wav2lip",
            inputs: j.inputs,
            params: j.params,
            completedAt: new Date().toISOString(),
          });
        }),
      );
    const finishedBytes = await keyBytes(redis, [
      ...ledgerKeys,
      redisKeys.batchEvents(id),
      ...jobKeys.map((k) => redisKeys.result(k)),
    ]);
    t = performance.now();
    const again = await call("/v1/batches", { model: "bench", items });
    const resubmitMs = performance.now() - t;
    const answer = (await again.json()) as { counts: { succeeded: number } };
    if (again.status !== 201 || answer.counts.succeeded !== ITEMS)
      throw new Error(`re-submit: ${again.status} ${JSON.stringify(answer.counts)}`);

    const perItem = (n: number, digits = 1) => (n / ITEMS).toFixed(digits);
    console.log(`submit of ${ITEMS} items`);
    console.log(
      `  raw BullMQ addBulk (baseline)   ${baselineMs.toFixed(0)} ms, ${perItem(baselineBytes)} Redis bytes/item`,
    );
    console.log(
      `  POST /v1/batches                ${submitMs.toFixed(0)} ms = ${(submitMs / baselineMs).toFixed(2)}x baseline (goal <= 2x)`,
    );
    console.log(`  Redis round trips (API client)  ${writes} = ${perItem(writes, 4)} per item`);
    console.log(`  Redis bytes (ledger + queue)    ${perItem(submitBytes)} per item (used_memory delta)`);
    console.log(`  Redis bytes (ledger keys only)  ${perItem(ledgerBytes)} per item while pending`);
    console.log(`  finished, with events + results ${perItem(finishedBytes)} per item`);
    console.log(`  re-submit of the finished batch ${resubmitMs.toFixed(0)} ms (goal < 1000 ms)`);
  } finally {
    redis.disconnect();
    await api.close();
    await infra.stop();
  }
}
