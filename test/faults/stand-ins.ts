import { randomBytes } from "node:crypto";
import {
  createInferenceQueue,
  createRedis,
  createSegmentQueue,
  type InferenceJob,
  Ledger,
  QUEUES,
  type SegmentJob,
  segmentRange,
  submitBatch,
  type BatchItem,
  type Config,
} from "@mediaq/shared";
import { type RunningApi, startApi } from "@mediaq/api";
import { type Job, type Queue, Worker } from "bullmq";
import { startInfra, type TestInfra } from "../harness/infra.ts";
import { awaitSegments } from "../../packages/worker/src/segments/segment-flow.ts";
import { onItemFailedByQueue, onSegmentFailedByQueue } from "../../packages/worker/src/queue-failures.ts";
import { settleSegmentFailure } from "../../packages/worker/src/segments/segment-failure.ts";
import { BadInputError } from "../../packages/worker/src/errors.ts";

/**
 * Stand-in workers for the queue-edge tests: BullMQ workers on the real item and segment
 * queues that make the worker's own ledger and queue calls (start, awaitSegments, the
 * segment failure policy, the handlers of failures BullMQ decides itself) but compute
 * nothing: a segment's outcome is decided by the test (`script`), and may be held at a gate
 * so it stays running (locked) while the test acts.
 */

type Redis = ReturnType<typeof createRedis>;

/** Two segments of ten frames: enough for a sibling to run while the other fails. */
export const PLAN = [
  { start: 0, count: 10 },
  { start: 10, count: 10 },
];
export const TOTAL = 20;

/** What a stand-in item "probed": the segments it queues carry it, as the worker's do. */
const standInProbe = async () => ({
  video: {
    width: 64,
    height: 64,
    rotation: 0 as const,
    fps: 25,
    frames: TOTAL,
    duration: TOTAL / 25,
    colorMatrix: "bt709",
    fullRange: false,
  },
  audioSeekable: true,
});

export type SegmentOutcome = "ok" | "bad-input" | "error";

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A segment run waiting for the test to decide its fate (holdEvery). */
export interface HeldRun {
  jobKey: string;
  range: string;
  settle(outcome: SegmentOutcome | "dead"): void;
}

export interface StandIns {
  ledger: Ledger;
  queue: Queue<InferenceJob>;
  segmentQueue: Queue<SegmentJob>;
  itemWorker: Worker<InferenceJob>;
  segmentWorker: Worker<SegmentJob>;
  /** Kills the segment worker "process" (its runs stop dead) and starts another; returns the dead one's name. */
  killSegmentWorker(): Promise<string>;
  /** Per range, the outcome of each run in turn (the last one repeats); "ok" when unset. */
  script: Map<string, SegmentOutcome[]>;
  /** Per range: a run waits here (running, its lock renewed) before its outcome. */
  gates: Map<string, Gate>;
  /** Segment runs per range, and stitches (item runs that found every piece). */
  runs: Map<string, number>;
  stitches: number;
  /** When set, every segment run waits in `held` until the test settles it. */
  holdEvery: boolean;
  held: HeldRun[];
  submitLong(tenant: string): Promise<{ batchId: string; jobKey: string }>;
  /** Another batch of the same work as a long item submitted before; returns its id. */
  submitSame(tenant: string, jobKey: string): Promise<string>;
  close(): Promise<void>;
}

const hex = () => randomBytes(32).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The world the queue-fault tests run in: Redis and an S3 server (infra.ts), the API in this
 * process with tenant acme's key `key-acme`, and stand-in workers. `stop` ends all three.
 */
export interface QueueWorld {
  infra: TestInfra;
  api: RunningApi;
  w: StandIns;
  stop(): Promise<void>;
}

export async function startQueueWorld(): Promise<QueueWorld> {
  const infra = await startInfra({ env: { API_KEYS: "acme:key-acme", API_HOST: "127.0.0.1", API_PORT: "0" } });
  let api: RunningApi | undefined;
  try {
    api = await startApi(infra.config);
    const w = await startStandIns(infra.config);
    const started = api;
    return {
      infra,
      api,
      w,
      async stop() {
        await w.close();
        await started.close();
        await infra.stop();
      },
    };
  } catch (err) {
    await api?.close();
    await infra.stop();
    throw err;
  }
}

export async function startStandIns(config: Config): Promise<StandIns> {
  const connections: Redis[] = [];
  const connect = () => {
    const c = createRedis(config);
    connections.push(c);
    return c;
  };
  const ledger = new Ledger(connect());
  const queue = createInferenceQueue(connect(), config);
  const segmentQueue = createSegmentQueue(connect(), config);
  const script = new Map<string, SegmentOutcome[]>();
  const gates = new Map<string, Gate>();
  const runs = new Map<string, number>();
  const log = { info() {}, warn() {}, error() {}, child: () => log } as never;
  const deps = { ledger, segmentQueue, log };
  const self = { stitches: 0, holdEvery: false };
  const held: HeldRun[] = [];
  const items = new Map<string, BatchItem>();
  const model = hex();
  const batchOf = (tenant: string) => ({
    id: crypto.randomUUID(),
    tenant,
    model,
    adapter: "wav2lip" as const,
    params: {},
    createdAt: new Date().toISOString(),
  });

  const itemWorker = new Worker<InferenceJob>(
    QUEUES.inference,
    async (job, token) => {
      const data = job.data;
      const start = await ledger.jobs.start(data.jobKey);
      if (start !== "started") {
        // Cancelled (no batch waits): a long item's pieces can never be used.
        if (start === "orphan") await dropPiecesOnly(data.jobKey);
        return { skipped: true };
      }
      const pieces = await awaitSegments(deps, job, token, data, { frames: TOTAL, probe: standInProbe }, PLAN, log);
      self.stitches++;
      await ledger.jobs.recordResult({
        jobKey: data.jobKey,
        key: `outputs/${data.jobKey}/stitched/output.mp4`,
        sha256: hex(),
        size: pieces.reduce((n, p) => n + p.size, 0),
        model: data.model.sha256,
        adapter: data.model.adapter,
        inputs: data.inputs,
        params: data.params,
        completedAt: new Date().toISOString(),
      });
      await ledger.segments.settle(data.jobKey);
      return { jobKey: data.jobKey };
    },
    { connection: connect(), prefix: config.QUEUE_PREFIX, name: "stand-in-items", lockDuration: 4000 },
  );
  itemWorker.on("failed", (job, err) => {
    if (job) void onItemFailedByQueue({ ledger, log, maxStalledCount: 1 }, job, err);
  });

  const startSegmentWorker = (name: string) => {
    const segmentWorker = new Worker<SegmentJob>(
      QUEUES.segment,
      async (job: Job<SegmentJob>, token) => {
        const { item } = job.data;
        const range = segmentRange(job.data);
        const start = await ledger.jobs.start(item.jobKey, { segment: true });
        if (start !== "started") return { skipped: true };
        if ((await ledger.segments.pieces(item.jobKey)).has(range)) return { skipped: true };
        const n = (runs.get(range) ?? 0) + 1;
        runs.set(range, n);
        await gates.get(range)?.promise;
        let outcome: SegmentOutcome | "dead";
        if (self.holdEvery) {
          // The test decides this run's fate; a "dead" run makes no more calls, as a killed
          // process makes none (its job was handed back meanwhile).
          outcome = await new Promise((resolve) => held.push({ jobKey: item.jobKey, range, settle: resolve }));
          if (outcome === "dead") return { dead: true };
        } else {
          const outcomes = script.get(range) ?? ["ok"];
          outcome = outcomes[Math.min(n, outcomes.length) - 1] ?? "ok";
        }
        try {
          if (outcome === "bad-input") throw new BadInputError(`segment ${range}: unreadable input (scripted)`);
          if (outcome === "error") throw new Error(`segment ${range}: transient error (scripted)`);
        } catch (err) {
          throw await settleSegmentFailure(
            { ledger, shutdown: new AbortController().signal, dropPieces: dropPiecesOnly },
            job,
            token,
            item.jobKey,
            err,
            log,
          );
        }
        await ledger.segments.record(item.jobKey, range, {
          start: job.data.start,
          count: job.data.count,
          key: `outputs/${item.jobKey}/a${n}/segment-${range}.mp4`,
          sha256: hex(),
          size: 100,
        });
        if (!(await ledger.jobs.live(item.jobKey))) await ledger.segments.drop(item.jobKey);
        return { range };
      },
      {
        connection: connect(),
        prefix: config.QUEUE_PREFIX,
        name,
        lockDuration: 4000,
        concurrency: 2,
      },
    );
    segmentWorker.on("failed", (job, err) => {
      if (job) void onSegmentFailedByQueue({ ledger, log, maxStalledCount: 1, dropPieces: dropPiecesOnly }, job, err);
    });
    return segmentWorker;
  };
  let generation = 1;
  let segmentWorker = startSegmentWorker("stand-in-segments-1");

  // The stand-ins write no objects: dropping pieces only forgets them in the ledger.
  async function dropPiecesOnly(jobKey: string) {
    await ledger.segments.drop(jobKey);
  }

  return {
    ledger,
    queue,
    segmentQueue,
    itemWorker,
    get segmentWorker() {
      return segmentWorker;
    },
    async killSegmentWorker() {
      const dead = segmentWorker;
      await dead.close(true);
      // Its runs make no more calls; their jobs are the supervisor's to hand back.
      for (const h of held.splice(0)) h.settle("dead");
      segmentWorker = startSegmentWorker(`stand-in-segments-${++generation}`);
      return dead.opts.name as string;
    },
    script,
    gates,
    runs,
    get stitches() {
      return self.stitches;
    },
    get holdEvery() {
      return self.holdEvery;
    },
    set holdEvery(on: boolean) {
      self.holdEvery = on;
    },
    held,
    async submitLong(tenant) {
      const item: BatchItem = {
        name: "long.mp4",
        jobKey: hex(),
        inputs: { video: hex(), audio: hex() },
        params: {},
      };
      items.set(item.jobKey, item);
      const batch = batchOf(tenant);
      await submitBatch(ledger, queue, batch, [item]);
      return { batchId: batch.id, jobKey: item.jobKey };
    },
    async submitSame(tenant, jobKey) {
      const batch = { ...batchOf(tenant), id: crypto.randomUUID() };
      await submitBatch(ledger, queue, batch, [items.get(jobKey) as BatchItem]);
      return batch.id;
    },
    async close() {
      for (const g of gates.values()) g.open();
      for (const h of held.splice(0)) h.settle("dead");
      await Promise.all([itemWorker.close(), segmentWorker.close()]);
      await Promise.all([queue.close(), segmentQueue.close()]);
      await sleep(10);
      for (const c of connections) c.disconnect();
    },
  };
}
