import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import {
  type ChannelOrder,
  createInferenceQueue,
  createRedis,
  createS3,
  ensureBucket,
  getObjectStream,
  type InferenceJob,
  Ledger,
  QUEUES,
  objectKeys,
  putStream,
  redisKeys,
  sha256Hex,
  submitBatch,
  toBatchItem,
} from "@mediaq/shared";
import { type Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { jobsRoot } from "../src/index.ts";

const TENANT = "t1";

export interface ItemSpec {
  name: string;
  video: string;
  audio: string;
  params?: unknown;
}

/** Real Redis + S3 (startInfra), a queue and a ledger, and helpers to submit items as the API does. */
export async function startWorkerHarness(env: Record<string, string> = {}) {
  const infra: TestInfra = await startInfra({ env });
  const s3 = createS3(infra.config);
  await ensureBucket(s3, infra.config.S3_BUCKET);
  const redis: Redis = createRedis(infra.config);
  const ledger = new Ledger(redis);
  const queueRedis = createRedis(infra.config);
  const queue: Queue<InferenceJob> = createInferenceQueue(queueRedis, infra.config);

  const putBlob = async (bytes: Buffer): Promise<string> => {
    const sha = sha256Hex(bytes);
    await putStream(s3, { bucket: infra.config.S3_BUCKET, key: objectKeys.blob(sha), body: bytes });
    return sha;
  };
  const putFile = (file: string) => putBlob(fs.readFileSync(file));

  /** Submits items as the API does; `channels` is the model's registered order (default: the adapter's). */
  const submit = async (model: string, items: ItemSpec[], o: { channels?: ChannelOrder } = {}) => {
    const batch = {
      id: randomUUID(),
      tenant: TENANT,
      model,
      adapter: "wav2lip" as const,
      channels: o.channels,
      params: {},
      createdAt: new Date().toISOString(),
    };
    const scope = { scope: TENANT, modelSha256: model, adapter: "wav2lip" as const, channels: o.channels };
    // Generated clips have no face for the detector: tests of other features give a box.
    const withBox = (params: unknown) => ({ box: [0, 0, 16, 16], ...(params as object) });
    const batchItems = items.map((i) =>
      toBatchItem(scope, { name: i.name, inputs: { video: i.video, audio: i.audio }, params: withBox(i.params) }),
    );
    await submitBatch(ledger, queue, batch, batchItems);
    return { batchId: batch.id, items: batchItems };
  };

  const waitDone = async (batchId: string, timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const counts = await ledger.batches.counts(batchId);
      if (counts.pending + counts.running === 0) return counts;
      if (Date.now() > until) throw new Error(`batch ${batchId} not done: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /**
   * The item's BullMQ job once BullMQ has marked it finished. The worker records the result
   * (what waitDone sees) before it returns, so BullMQ's completion follows a moment later.
   */
  const finishedJob = async (jobKey: string, timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const job = await queue.getJob(jobKey);
      if (job?.finishedOn) return job;
      if (Date.now() > until) throw new Error(`job ${jobKey} not finished in BullMQ: ${await job?.getState()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Writes a job's recorded output to `file` (in the harness directory when relative); returns its path. */
  const downloadOutput = async (jobKey: string, file: string): Promise<string> => {
    const result = await ledger.jobs.getResult(jobKey);
    if (!result) throw new Error(`no result recorded for job ${jobKey}`);
    const out = path.resolve(infra.dir, file);
    await pipeline(await getObjectStream(s3, infra.config.S3_BUCKET, result.key), fs.createWriteStream(out));
    return out;
  };

  const runs = async () => Number((await redis.get(redisKeys.inferenceRuns)) ?? 0);
  const scratchDir = jobsRoot(infra.config.CACHE_ROOT);
  const scratchEntries = () => (fs.existsSync(scratchDir) ? fs.readdirSync(scratchDir) : []);
  /** Bytes held under CACHE_ROOT/jobs (all job scratch directories). */
  const scratchBytes = (dir = scratchDir): number =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
          const p = path.join(dir, e.name);
          return sum + (e.isDirectory() ? scratchBytes(p) : fs.statSync(p).size);
        }, 0)
      : 0;

  return {
    infra,
    s3,
    redis,
    ledger,
    queue,
    putBlob,
    putFile,
    submit,
    waitDone,
    finishedJob,
    downloadOutput,
    runs,
    scratchEntries,
    scratchBytes,
    /** Config for an in-process worker, with quieter logs. */
    config: (over: Record<string, unknown> = {}) => ({ ...infra.config, LOG_LEVEL: "error" as const, ...over }),
    async stop() {
      await queue.close();
      queueRedis.disconnect();
      redis.disconnect();
      s3.destroy();
      await infra.stop();
    },
  };
}

export type WorkerHarness = Awaited<ReturnType<typeof startWorkerHarness>>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every "stalled" BullMQ reports for the inference queue, from the queue's event stream and
 * from the worker itself; close() stops listening.
 */
export async function watchStalls(
  h: WorkerHarness,
  worker: { worker: { on(event: "stalled", listener: (jobId: string) => void): unknown } },
): Promise<{ stalled: string[]; close(): Promise<void> }> {
  const events = new QueueEvents(QUEUES.inference, {
    connection: h.infra.config,
    prefix: h.infra.config.QUEUE_PREFIX,
  } as never);
  await events.waitUntilReady();
  const stalled: string[] = [];
  events.on("stalled", ({ jobId }) => stalled.push(jobId));
  worker.worker.on("stalled", (jobId) => stalled.push(jobId));
  return { stalled, close: () => events.close() };
}
