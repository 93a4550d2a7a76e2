import type http from "node:http";
import {
  assertNoEviction,
  type Config,
  createRedis,
  createS3,
  type InferenceJob,
  Ledger,
  type Logger,
  QUEUES,
  serveMetrics,
} from "@mediaq/shared";
import { Worker } from "bullmq";
import { HandBackError } from "./errors.ts";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics.ts";
import { ModelCache } from "./model-cache.ts";
import { createProcessor, type JobOutput } from "./processor.ts";

export interface StartWorkerOptions {
  log: Logger;
  /** Serve Prometheus metrics on this port (default: config.METRICS_PORT; unset = not served). */
  metricsPort?: number;
  /** On close, how long the current job may run before it is handed back to the queue. */
  handBackAfterMs?: number;
}

export interface WorkerHandle {
  worker: Worker<InferenceJob, JobOutput>;
  metrics: WorkerMetrics;
  metricsServer?: http.Server;
  /**
   * Stops taking jobs, lets the current one finish (or hands it back after
   * handBackAfterMs), then releases models and connections.
   */
  close(opts?: { handBackAfterMs?: number }): Promise<void>;
  /** Hands the current job back to the queue now (a second SIGTERM). */
  handBack(): void;
}

/** One BullMQ worker on QUEUES.inference with concurrency 1: one inference per process (per GPU card). */
export async function runInferenceWorker(config: Config, opts: StartWorkerOptions): Promise<WorkerHandle> {
  const { log } = opts;
  const queueRedis = createRedis(config);
  const ledgerRedis = createRedis(config);
  const warning = await assertNoEviction(ledgerRedis);
  if (warning) log.warn(warning);
  const s3 = createS3(config);
  const metrics = createWorkerMetrics();
  const models = new ModelCache(s3, config, log);
  const shutdown = new AbortController();
  const processor = createProcessor({
    config,
    s3,
    ledger: new Ledger(ledgerRedis),
    redis: ledgerRedis,
    models,
    metrics,
    log,
    shutdown: shutdown.signal,
  });
  const worker = new Worker<InferenceJob, JobOutput>(QUEUES.inference, processor, {
    connection: queueRedis,
    prefix: config.QUEUE_PREFIX,
    concurrency: 1,
  });
  worker.on("error", (err) => log.error({ err }, "worker error"));
  const metricsPort = opts.metricsPort ?? config.METRICS_PORT;
  const metricsServer = metricsPort !== undefined ? await serveMetrics(metrics.registry, metricsPort) : undefined;
  log.info(
    { queue: QUEUES.inference, prefix: config.QUEUE_PREFIX, provider: config.ORT_EXECUTION_PROVIDER },
    "worker started",
  );

  let closing: Promise<void> | undefined;
  return {
    worker,
    metrics,
    metricsServer,
    handBack() {
      shutdown.abort(new HandBackError());
    },
    close(closeOpts = {}) {
      closing ??= (async () => {
        const graceMs = closeOpts.handBackAfterMs ?? opts.handBackAfterMs ?? 30_000;
        const timer = setTimeout(() => shutdown.abort(new HandBackError()), graceMs);
        try {
          await worker.close(); // waits for the active job (finished or handed back)
        } finally {
          clearTimeout(timer);
        }
        await models.close();
        await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
        s3.destroy();
        await Promise.allSettled([queueRedis.quit(), ledgerRedis.quit()]);
        log.info("worker stopped");
      })();
      return closing;
    },
  };
}
