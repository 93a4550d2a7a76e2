import { randomBytes } from "node:crypto";
import type http from "node:http";
import os from "node:os";
import {
  assertNoEviction,
  blockingClientOf,
  type Config,
  createFaceTrackQueue,
  createRedis,
  createInferenceQueue,
  createSegmentQueue,
  createS3,
  type FaceTrackJob,
  type InferenceJob,
  Ledger,
  ledgerOptionsFrom,
  type Logger,
  QUEUES,
  type SegmentJob,
  runPeriodically,
  serveMetrics,
} from "@mediaq/shared";
import { Mutex } from "async-mutex";
import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Counter } from "prom-client";
import { InputCache } from "./input-cache.ts";
import { DiskGuard } from "./disk-guard.ts";
import { HandBackError } from "./errors.ts";
import { FrameOpsThread } from "./frames/frame-ops-client.ts";
import { chooseCodecs, probeCodecCapabilities } from "./media/codecs.ts";
import { ProbeCache } from "./media/probe-cache.ts";
import { DecodedClips } from "./decoded-clips.ts";
import { createTrackProcessor, type TrackJobOutput } from "./face/track-job.ts";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics.ts";
import { ModelCache } from "./model-cache.ts";
import { onItemFailedByQueue, onSegmentFailedByQueue } from "./queue-failures.ts";
import { createProcessor, type JobOutput } from "./processor.ts";
import { createSegmentProcessor, dropPieces, type SegmentOutput } from "./segments/segment-job.ts";
import { sweepScratch } from "./sweeper.ts";

export interface StartWorkerOptions {
  log: Logger;
  /** Serve Prometheus metrics on this port (default: config.METRICS_PORT; unset = not served). */
  metricsPort?: number;
  /** On close, how long the current job may run before it is handed back to the queue. */
  handBackAfterMs?: number;
  /** BullMQ job lock duration: a dead worker's job is considered stalled this long after its last renewal. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (those of workers that died). */
  stalledIntervalMs?: number;
  /**
   * Prefetch (WORKER_PREFETCH): three jobs active at once: the next one fetches, probes,
   * decodes and crops while the current one holds the card, and the previous one pastes,
   * encodes and uploads after it let go of the card; model calls stay one job at a time.
   */
  prefetch?: boolean;
  /** Free-disk guard poll period (WORKER_DISK_CHECK_SECONDS); default 5000. */
  diskCheckMs?: number;
  /** The process's count of Redis rebuilds (main.ts keeps it across rebuilds), served with the metrics. */
  redisRebuilds?: Counter;
}

export interface WorkerHandle {
  worker: Worker<InferenceJob, JobOutput>;
  /** Names this process's inference spans (ledger.jobs.inferenceSpans). */
  workerId: string;
  /** The free-disk guard; its minFreeBytes may be changed at run time. */
  diskGuard: DiskGuard;
  /** Runs the scratch sweeper now (it also runs at start-up and every CACHE_SWEEP_INTERVAL_SECONDS). */
  sweep(): Promise<void>;
  metrics: WorkerMetrics;
  metricsServer?: http.Server;
  /**
   * Stops taking jobs, lets the current one finish (or hands it back after
   * handBackAfterMs), then releases models and connections.
   */
  close(opts?: { handBackAfterMs?: number }): Promise<void>;
  /** Hands the current job back to the queue now (a second SIGTERM). */
  handBack(): void;
  /** Its Redis clients, BullMQ's blocking ones included (watched by keepConnected). */
  connections(): Promise<Redis[]>;
  /** Redis is back after a disconnect: look for stalled jobs now, not at the next interval. */
  reconnected(): void;
  /** Drops its connections and metrics listener at once (a rebuild whose close did not finish). */
  disconnect(): void;
}

/** One BullMQ worker on QUEUES.inference with concurrency 1: one inference per process (per GPU card). */
export async function runInferenceWorker(config: Config, opts: StartWorkerOptions): Promise<WorkerHandle> {
  const { log } = opts;
  // Hardware codecs are decided once, before any job (an explicit one that is missing stops
  // here). `auto` on a machine without them is the normal CPU setup: one info line says so.
  const codecs = chooseCodecs(config, await probeCodecCapabilities(config.GPU_DEVICE_ID));
  if (codecs.fallback) log.info({ device: codecs.device }, codecs.fallback);
  const queueRedis = createRedis(config);
  const ledgerRedis = createRedis(config);
  const warning = await assertNoEviction(ledgerRedis);
  if (warning) log.warn(warning);
  const s3 = createS3(config);
  const metrics = createWorkerMetrics();
  if (opts.redisRebuilds) metrics.registry.registerMetric(opts.redisRebuilds);
  const models = new ModelCache(s3, config, log);
  const shutdown = new AbortController();
  const ledger = new Ledger(ledgerRedis, ledgerOptionsFrom(config));
  const workerId =
    config.WORKER_NAME ??
    `${os.hostname()}-${process.pid}-gpu${config.GPU_DEVICE_ID}-${randomBytes(3).toString("hex")}`;
  const diskGuard = new DiskGuard(
    config.CACHE_ROOT,
    config.MIN_FREE_DISK_BYTES,
    opts.diskCheckMs ?? 5000,
    log,
    metrics,
  );
  // Crop and paste run on a thread of their own, started (and its graphs loaded) now.
  const frameOps = new FrameOpsThread();
  // The card is used by one model at a time: lip-sync inference and face detection share the
  // lock, also when prefetch runs three jobs.
  const inferenceLock = new Mutex();
  const faceTrackQueue = createFaceTrackQueue(queueRedis, config);
  const segmentQueue = createSegmentQueue(queueRedis, config);
  // Where a script-to-video item queues its speech stage (docs/architecture.md#script-to-video).
  const inferenceQueue = createInferenceQueue(queueRedis, config);
  // Kept per process, shared by the item, segment and face-track workers below.
  const inputs = new InputCache(config.CACHE_ROOT, config.INPUT_CACHE_BYTES);
  const probes = new ProbeCache();
  // A clip's decoded frames are kept when they take at most a quarter of the input cache.
  const clips = new DecodedClips(config.CACHE_ROOT, Math.floor(config.INPUT_CACHE_BYTES / 4));
  const deps = {
    workerId,
    frameOps,
    codecs,
    inferenceLock,
    faceTrackQueue,
    diskGuard,
    config,
    s3,
    ledger,
    models,
    metrics,
    log,
    shutdown: shutdown.signal,
    segmentQueue,
    inputs,
    probes,
    clips,
    inferenceQueue,
  };
  const processor = createProcessor(deps);
  const workerOptions = {
    connection: queueRedis,
    prefix: config.QUEUE_PREFIX,
    // Recorded on each job it takes (job.processedBy): a supervisor finds a dead child's jobs by it.
    name: workerId,
    autorun: false, // started below, once the sweeper and the free-disk guard have run
    lockDuration: opts.lockDurationMs ?? config.WORKER_LOCK_DURATION_MS,
    stalledInterval: opts.stalledIntervalMs ?? config.WORKER_STALLED_INTERVAL_MS,
    // A worker that dies mid-job (SIGKILL, OOM, native crash) spends an attempt like a
    // thrown error does: after JOB_ATTEMPTS deaths on the same job, BullMQ fails it.
    maxStalledCount: Math.max(0, config.JOB_ATTEMPTS - 1),
  };
  const worker = new Worker<InferenceJob, JobOutput>(QUEUES.inference, processor, {
    ...workerOptions,
    concurrency: opts.prefetch ? 3 : 1,
  });
  worker.on("error", (err) => log.error({ err }, "worker error"));
  // Face tracks have their own queue and worker in the same process, so an item that waits
  // for its track (delayed) never blocks the track's job (docs/architecture.md, "Face tracks").
  const trackWorker = new Worker<FaceTrackJob, TrackJobOutput>(
    QUEUES.faceTrack,
    createTrackProcessor({
      codecs,
      config,
      s3,
      ledger,
      models,
      log,
      shutdown: shutdown.signal,
      inferenceLock,
      inputs,
      probes,
    }),
    { ...workerOptions, concurrency: 1 },
  );
  trackWorker.on("error", (err) => log.error({ err }, "face-track worker error"));
  // Segments of long items: their own queue and worker in the same process, sharing the
  // card lock, so any worker with a free card takes them (docs/architecture.md#segments).
  // One at a time, even with prefetch: a death loses every segment the worker holds, and a
  // segment's fixed cost is planned to a few per cent of its work, so there is little to hide.
  const segmentWorker = new Worker<SegmentJob, SegmentOutput>(QUEUES.segment, createSegmentProcessor(deps), {
    ...workerOptions,
    concurrency: 1,
  });
  segmentWorker.on("error", (err) => log.error({ err }, "segment worker error"));
  // Jobs BullMQ fails itself never reach a processor (docs/architecture.md#worker-deaths).
  const queueFailureDeps = {
    ledger,
    log,
    maxStalledCount: workerOptions.maxStalledCount,
    dropPieces: (jobKey: string) => dropPieces(deps, jobKey),
  };
  const logged = (p: Promise<void>) => p.catch((err) => log.error({ err }, "could not settle a job BullMQ failed"));
  worker.on("failed", (job, err) => {
    if (job) logged(onItemFailedByQueue(queueFailureDeps, job, err));
  });
  segmentWorker.on("failed", (job, err) => {
    if (job) logged(onSegmentFailedByQueue(queueFailureDeps, job, err));
  });
  const metricsPort = opts.metricsPort ?? config.METRICS_PORT;
  const metricsServer =
    metricsPort !== undefined ? await serveMetrics(metrics.registry, metricsPort, config.METRICS_HOST) : undefined;

  // Scratch sweeper: at start-up (before the first job) and every CACHE_SWEEP_INTERVAL_SECONDS.
  // AUTO_CLEAR_CACHE=false keeps every directory for debugging, so nothing is swept then.
  const sweep = async () => {
    if (!config.AUTO_CLEAR_CACHE) return;
    const swept = await sweepScratch(config.CACHE_ROOT, config.CACHE_TTL_SECONDS);
    metrics.scratchFreedBytes.inc(swept.freedBytes);
    metrics.scratchCleanupFailures.inc(swept.failures);
    // The input cache, down to INPUT_CACHE_BYTES (least recently used first).
    const inputs = await deps.inputs.sweep(config.CACHE_TTL_SECONDS);
    metrics.scratchFreedBytes.inc(inputs.freedBytes);
    if (inputs.removed > 0) log.info(inputs, "swept the input cache");
    if (swept.removed.length > 0 || swept.failures > 0)
      log.info(
        { removed: swept.removed, freedBytes: swept.freedBytes, failures: swept.failures },
        "swept orphaned scratch",
      );
  };
  const sweepFailed = (err: unknown) => log.error({ err }, "scratch sweep failed");
  await sweep().catch(sweepFailed);
  const sweeper = runPeriodically(sweep, config.CACHE_SWEEP_INTERVAL_SECONDS, sweepFailed, { now: false });
  // Segments need scratch space too: paused with the item worker, or a segment handed back
  // for lack of disk would be taken again at once, in a loop.
  diskGuard.attach(worker, segmentWorker);
  diskGuard.start();
  // With too little disk the workers start paused; the guard's poll resumes (= runs) them.
  if (await diskGuard.check()) {
    worker.run().catch((err) => log.error({ err }, "worker loop failed"));
    segmentWorker.run().catch((err) => log.error({ err }, "segment worker loop failed"));
  }
  trackWorker.run().catch((err) => log.error({ err }, "face-track worker loop failed"));
  log.info(
    {
      queue: QUEUES.inference,
      prefix: config.QUEUE_PREFIX,
      provider: config.ORT_EXECUTION_PROVIDER,
      encoder: codecs.encoder,
      decoder: codecs.decoder,
      device: config.GPU_DEVICE_ID,
      prefetch: opts.prefetch ?? false,
      workerId,
    },
    "worker started",
  );

  let closing: Promise<void> | undefined;
  return {
    worker,
    workerId,
    diskGuard,
    sweep,
    metrics,
    metricsServer,
    handBack() {
      shutdown.abort(new HandBackError());
    },
    async connections() {
      const blocking = await Promise.all([worker, trackWorker, segmentWorker].map(blockingClientOf));
      return [queueRedis, ledgerRedis, ...blocking.filter((c): c is Redis => c !== undefined)];
    },
    reconnected() {
      for (const w of [worker, trackWorker, segmentWorker])
        if (w.isRunning()) w.startStalledCheckTimer().catch((err) => log.error({ err }, "stalled check failed"));
    },
    disconnect() {
      shutdown.abort(new HandBackError());
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      queueRedis.disconnect();
      ledgerRedis.disconnect();
      for (const w of [worker, trackWorker, segmentWorker]) w.disconnect().catch(() => undefined);
    },
    close(closeOpts = {}) {
      closing ??= (async () => {
        await sweeper.stop();
        diskGuard.stop();
        const graceMs = closeOpts.handBackAfterMs ?? opts.handBackAfterMs ?? 30_000;
        const timer = setTimeout(() => shutdown.abort(new HandBackError()), graceMs);
        try {
          // Each waits for its active job (finished or handed back).
          await Promise.all([worker.close(), trackWorker.close(), segmentWorker.close()]);
        } finally {
          clearTimeout(timer);
        }
        await Promise.all([faceTrackQueue.close(), segmentQueue.close(), inferenceQueue.close()]);
        await models.close();
        await frameOps.close();
        await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
        s3.destroy();
        await Promise.allSettled([queueRedis.quit(), ledgerRedis.quit()]);
        log.info("worker stopped");
      })();
      return closing;
    },
  };
}
