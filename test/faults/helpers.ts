import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { type EmbeddedRedis, type Managed, spawnManaged, startRedis } from "@mediaq/cli/embedded";
import {
  type BatchItem,
  createInferenceQueue,
  createRedis,
  createS3,
  ensureBucket,
  getObjectStream,
  headObject,
  type InferenceJob,
  type ItemView,
  Ledger,
  objectKeys,
  putStream,
  redisKeys,
  sha256Hex,
  submitBatch,
  toBatchItem,
} from "@mediaq/shared";
import type { Queue } from "bullmq";
import { startInfra, type TestInfra } from "../harness/infra.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

/**
 * The fault tests' world: a real redis-server (AOF) and S3 server, the real ledger and
 * inference queue (as the API uses them) in this process, and inference workers as real
 * child processes that the tests SIGKILL. Work actually done is counted by the worker
 * itself: redisKeys.inferenceRuns overall, and the `runs` field of each job key's ledger hash.
 */

type Redis = ReturnType<typeof createRedis>;

export const TENANT = "faults";
const WORKER_MAIN = fileURLToPath(import.meta.resolve("@mediaq/worker/main"));
const DEMO_MODEL = fileURLToPath(import.meta.resolve("@mediaq/worker/models/demo-wav2lip.onnx"));

/**
 * Shorter BullMQ lock/stall timings than the defaults (8 s / 2 s), so a killed worker's job
 * comes back in about 5 s. The lock is renewed every half lock: 2 s of slack for a worker's
 * event loop on a loaded machine (no-false-stalls.test.ts saw delays up to 0.7 s); a 1.5 s
 * lock left 0.75 s, and under load a live worker's job was taken as stalled and ran twice.
 */
export const FAST_STALLS = { WORKER_LOCK_DURATION_MS: "4000", WORKER_STALLED_INTERVAL_MS: "1000" };

export interface WorkerProcess extends Managed {
  name: string;
  /** Everything the process printed (pino JSON lines), for failure messages. */
  logs(): string;
}

export interface ItemSpec {
  name: string;
  video?: number;
  audio?: number;
  params?: Record<string, unknown>;
}

export interface FaultStack {
  infra: TestInfra;
  s3: ReturnType<typeof createS3>;
  redis: Redis;
  ledger: Ledger;
  queue: Queue<InferenceJob>;
  modelSha: string;
  /** Input blob hashes (distinct tiny clips). */
  videos: string[];
  audios: string[];
  /** Environment for worker children. */
  workerEnv: Record<string, string>;
  spawnWorker(name?: string, env?: Record<string, string>): Promise<WorkerProcess>;
  /** SIGKILLs every worker started so far. */
  killWorkers(): Promise<void>;
  /** Creates a batch and queues its work the way the API does (every pending job key is offered). */
  submit(items: ItemSpec[]): Promise<{ batchId: string; items: BatchItem[] }>;
  waitDone(
    batchId: string,
    timeoutMs?: number,
  ): Promise<{ pending: number; running: number; succeeded: number; failed: number }>;
  views(batchId: string): Promise<ItemView[]>;
  /** Inference runs in total (redisKeys.inferenceRuns). */
  runs(): Promise<number>;
  /** Inference runs per job key (the `runs` field the worker increments on the job's ledger hash). */
  runsByKey(jobKeys: string[]): Promise<Map<string, number>>;
  /** Job keys whose ledger state is `state` now, among those given. */
  keysInState(jobKeys: string[], state: string): Promise<string[]>;
  /** Checks each item's output: sha256 in the result == object bytes' hash == object metadata. */
  verifyOutputs(batchId: string): Promise<void>;
  /** Streams an object of the bucket to a file; returns the file. */
  download(key: string, file: string): Promise<string>;
  /** SIGKILLs redis-server and starts it again on the same port and data directory. */
  crashRedis(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFaultStack(
  opts: {
    env?: Record<string, string>;
    videos?: number;
    audios?: number;
    /** Length of the clips (videos and audios), 0.5 s by default. */
    seconds?: number;
    /** Length of the audios when it differs: the output follows the audio (a long item from a short clip). */
    audioSeconds?: number;
    /** Video size, 96x96 by default. */
    size?: { width: number; height: number };
  } = {},
): Promise<FaultStack> {
  const infra = await startInfra({ env: { JOB_ATTEMPTS: "3", ...opts.env } });
  const s3 = createS3(infra.config);
  await ensureBucket(s3, infra.config.S3_BUCKET);
  const redis = createRedis(infra.config);
  const queueRedis = createRedis(infra.config);
  // These connections ride out crashRedis(); ioredis reconnects and reports the refused
  // connections as errors meanwhile, which are expected here.
  for (const c of [redis, queueRedis]) c.on("error", () => undefined);
  const ledger = new Ledger(redis);
  const queue = createInferenceQueue(queueRedis, infra.config);
  queue.on("error", () => undefined);
  let embeddedRedis = infra.redis as EmbeddedRedis;
  const workers: WorkerProcess[] = [];

  const putBlob = async (bytes: Buffer) => {
    const sha = sha256Hex(bytes);
    await putStream(s3, { bucket: infra.config.S3_BUCKET, key: objectKeys.blob(sha), body: bytes });
    return sha;
  };
  const seconds = opts.seconds ?? 0.5;
  const size = opts.size ?? { width: 96, height: 96 };
  const media = async (n: number, kind: "video" | "audio") =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const file = path.join(infra.dir, `${kind}-${i}.${kind === "video" ? "mp4" : "wav"}`);
        if (kind === "video") await makeVideo(file, { seconds, ...size, frequency: 300 + 40 * i });
        else await makeAudio(file, { seconds: opts.audioSeconds ?? seconds, frequency: 200 + 30 * i });
        return putBlob(fs.readFileSync(file));
      }),
    );
  const [videos, audios, modelSha] = await Promise.all([
    media(opts.videos ?? 2, "video"),
    media(opts.audios ?? 2, "audio"),
    putBlob(fs.readFileSync(DEMO_MODEL)),
  ]);

  const workerEnv: Record<string, string> = {
    ...infra.env,
    ...FAST_STALLS,
    LOG_LEVEL: "info",
    WORKER_SHUTDOWN_GRACE_SECONDS: "1",
  };

  const stack: FaultStack = {
    infra,
    s3,
    redis,
    ledger,
    queue,
    modelSha,
    videos,
    audios,
    workerEnv,

    async spawnWorker(name = `worker-${workers.length + 1}`, env = {}) {
      const proc = spawnManaged(process.execPath, [WORKER_MAIN], {
        env: { ...process.env, ...workerEnv, ...env },
      });
      let out = "";
      const keep = (d: Buffer) => {
        out = (out + d.toString()).slice(-200_000);
      };
      proc.child.stdout?.on("data", keep);
      proc.child.stderr?.on("data", keep);
      const worker: WorkerProcess = { ...proc, name, logs: () => out };
      workers.push(worker);
      const until = Date.now() + 30_000;
      while (!out.includes("worker started")) {
        if (proc.child.exitCode !== null || Date.now() > until)
          throw new Error(`${name} did not start (exit ${proc.child.exitCode}):\n${out}`);
        await sleep(25);
      }
      return worker;
    },

    async killWorkers() {
      await Promise.all(workers.map((w) => w.kill()));
    },

    async submit(specs) {
      const batch = {
        id: randomUUID(),
        tenant: TENANT,
        model: modelSha,
        adapter: "wav2lip" as const,
        params: {},
        createdAt: new Date().toISOString(),
      };
      const scope = { scope: TENANT, modelSha256: modelSha, adapter: "wav2lip" as const };
      const items = specs.map((s) =>
        toBatchItem(scope, {
          name: s.name,
          inputs: { video: videos[s.video ?? 0] as string, audio: audios[s.audio ?? 0] as string },
          params: s.params,
        }),
      );
      await submitBatch(ledger, queue, batch, items);
      return { batchId: batch.id, items };
    },

    async waitDone(batchId, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const counts = await ledger.batches.counts(batchId);
        if (counts.pending + counts.running === 0) return counts;
        if (Date.now() > until) {
          const logs = workers.map((w) => `--- ${w.name}\n${w.logs().slice(-4000)}`).join("\n");
          throw new Error(`batch not done after ${timeoutMs} ms: ${JSON.stringify(counts)}\n${logs}`);
        }
        await sleep(100);
      }
    },

    async views(batchId) {
      return ledger.batches.itemViews(batchId, 0, await ledger.batches.total(batchId));
    },

    async runs() {
      return Number((await redis.get(redisKeys.inferenceRuns)) ?? 0);
    },

    async runsByKey(jobKeys) {
      const pipe = redis.pipeline();
      for (const k of jobKeys) pipe.hget(redisKeys.job(k), "runs");
      const replies = (await pipe.exec()) ?? [];
      return new Map(jobKeys.map((k, i) => [k, Number(replies[i]?.[1] ?? 0)]));
    },

    async keysInState(jobKeys, state) {
      const pipe = redis.pipeline();
      for (const k of jobKeys) pipe.hget(redisKeys.job(k), "state");
      const replies = (await pipe.exec()) ?? [];
      return jobKeys.filter((_, i) => replies[i]?.[1] === state);
    },

    async download(key, file) {
      await pipeline(await getObjectStream(s3, infra.config.S3_BUCKET, key), fs.createWriteStream(file));
      return file;
    },

    async verifyOutputs(batchId) {
      const bucket = infra.config.S3_BUCKET;
      for (const view of await stack.views(batchId)) {
        const result = await ledger.jobs.getResult(view.jobKey);
        if (!result) throw new Error(`item ${view.name}: no result recorded`);
        const key = result.key;
        const head = await headObject(s3, bucket, key);
        const chunks: Buffer[] = [];
        for await (const c of await getObjectStream(s3, bucket, key)) chunks.push(c as Buffer);
        const bytes = Buffer.concat(chunks);
        const actual = sha256Hex(bytes);
        if (actual !== result.sha256 || head?.Metadata?.sha256 !== actual || bytes.length !== result.size)
          throw new Error(
            `item ${view.name}: result ${result.sha256}/${result.size}, object ${actual}/${bytes.length}, metadata ${head?.Metadata?.sha256}`,
          );
        if (head?.Metadata?.jobkey !== view.jobKey)
          throw new Error(`item ${view.name}: metadata names another job key`);
        if (view.output?.sha256 !== actual)
          throw new Error(`item ${view.name}: item view shows ${view.output?.sha256}`);
      }
    },

    async crashRedis(downMs = 300) {
      await embeddedRedis.kill();
      await sleep(downMs);
      embeddedRedis = await startRedis({ dataDir: embeddedRedis.dataDir, port: embeddedRedis.port });
    },

    async stop() {
      await Promise.all(workers.map((w) => w.kill()));
      await queue.close().catch(() => undefined);
      queueRedis.disconnect();
      redis.disconnect();
      s3.destroy();
      if (embeddedRedis !== infra.redis) await embeddedRedis.stop();
      await infra.stop();
    },
  };
  return stack;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is truthy; returns its value. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Distinct job keys over few inputs: the face box moves by a pixel per item. */
export function boxItems(n: number, prefix: string, first = 0): ItemSpec[] {
  return Array.from({ length: n }, (_, k) => {
    const i = first + k;
    return {
      name: `${prefix}-${i}.mp4`,
      video: i % 2,
      audio: Math.floor(i / 2) % 2,
      params: { box: [i % 40, Math.floor(i / 40), 48, 48] },
    };
  });
}
