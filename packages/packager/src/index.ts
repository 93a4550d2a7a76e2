import {
  blockingClientOf,
  isFinalFailure,
  type Config,
  createLogger,
  createRedis,
  createS3,
  Ledger,
  type Logger,
  PackageStore,
  QUEUES,
} from "@mediaq/shared";
import { FlowProducer, type Job, WaitingChildrenError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Counter, Registry } from "prom-client";
import { installPackageLifecycle } from "./lifecycle.ts";
import { createPackagerMetrics } from "./metrics.ts";
import { markFailed, PART_QUEUE, type PartJob, runPartJob } from "./part-job.ts";
import { runPackageJob } from "./package-job.ts";
import { startSweeper } from "./sweeper.ts";

export { createZipArchive } from "./archiver.ts";
export { sanitizeEntryName, uniqueEntryNames } from "./entry-names.ts";
export { installPackageLifecycle, LIFECYCLE_RULE_ID, packageLifecycleRule } from "./lifecycle.ts";
export type { Manifest, ManifestItem, ManifestPart } from "./manifest.ts";
export { PART_QUEUE, type PartJob } from "./part-job.ts";
export { type PackagePlan, partName, planPackage } from "./plan.ts";
export { loadPlanItems } from "./plan-items.ts";
/** The packager's own settings (from the shared config); tests may override them. */
export type PackagerSettings = Pick<
  Config,
  "PACKAGE_SWEEP_INTERVAL_SECONDS" | "PACKAGE_PART_CONCURRENCY" | "PACKAGE_JOB_CONCURRENCY" | "PACKAGE_LOCK_SECONDS"
>;
export { sweepExpiredPackages } from "./sweeper.ts";
export { zipSize } from "./zip-layout.ts";

export interface Packager {
  /** Prometheus registry (main.ts serves it on METRICS_PORT). */
  metrics: Registry;
  /** Runs package jobs (parents: plan, then manifest + SHA256SUMS once every part is built). */
  worker: Worker<{ packageId: string }>;
  /** Runs part jobs (children: one ZIP part each), possibly of packages planned elsewhere. */
  partWorker: Worker<PartJob>;
  /** Stops taking jobs, lets the running ones finish, closes connections. */
  close(): Promise<void>;
  /** Its Redis clients, BullMQ's blocking ones included (watched by keepConnected). */
  connections(): Promise<Redis[]>;
  /** Redis is back after a disconnect: look for stalled parts and packages now. */
  reconnected(): void;
  /** Drops its connections at once (a rebuild whose close did not finish). */
  disconnect(): void;
}

/** Starts the package and part workers and the expiry sweeper in this process. */
export function startPackager(
  config: Config,
  opts: { settings?: Partial<PackagerSettings>; logger?: Logger; redisRebuilds?: Counter } = {},
): Packager {
  const settings: PackagerSettings = { ...config, ...opts.settings };
  const logger = opts.logger ?? createLogger("packager", config);
  const redis = createRedis(config);
  const workerConnection = createRedis(config);
  const partConnection = createRedis(config);
  const flowConnection = createRedis(config);
  const s3 = createS3(config);
  const ledger = new Ledger(redis);
  const store = new PackageStore(redis);
  const flow = new FlowProducer({ connection: flowConnection, prefix: config.QUEUE_PREFIX });
  const base = { redis, ledger, store, s3, bucket: config.S3_BUCKET, logger };
  const lockDuration = settings.PACKAGE_LOCK_SECONDS * 1000;

  const worker = new Worker<{ packageId: string }>(
    QUEUES.package,
    async (job: Job<{ packageId: string; generation?: number }>, token?: string) => {
      try {
        return await runPackageJob(
          {
            ...base,
            flow,
            partJobOptions: { attempts: config.JOB_ATTEMPTS, backoff: { type: "exponential", delay: 2000 } },
          },
          job,
          token,
        );
      } catch (err) {
        if (err instanceof WaitingChildrenError) throw err;
        const final = isFinalFailure(job, err);
        logger.error(
          { packageId: job.data.packageId, err, attempt: job.attemptsMade + 1, final },
          "package job failed",
        );
        // Until the last attempt the record stays "building"; BullMQ retries with backoff.
        if (final) await markFailed(base, job.data.packageId, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
    {
      connection: workerConnection,
      prefix: config.QUEUE_PREFIX,
      concurrency: settings.PACKAGE_JOB_CONCURRENCY,
      lockDuration,
      stalledInterval: lockDuration,
    },
  );
  // A packager killed mid-part stops renewing the part's lock; after lockDuration another
  // packager's stalled-job check puts the part back in the queue and builds it again.
  const partWorker = new Worker<PartJob>(PART_QUEUE, (job) => runPartJob(base, job), {
    connection: partConnection,
    prefix: config.QUEUE_PREFIX,
    concurrency: settings.PACKAGE_PART_CONCURRENCY,
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: 2,
  });
  const metrics = createPackagerMetrics();
  if (opts.redisRebuilds) metrics.registry.registerMetric(opts.redisRebuilds);
  partWorker.on("completed", (_job, part: { size?: number } | undefined) => {
    metrics.parts.inc({ outcome: "built" });
    metrics.packageBytes.inc(part?.size ?? 0);
  });
  partWorker.on("failed", () => metrics.parts.inc({ outcome: "failed" }));
  worker.on("error", (err) => logger.error({ err }, "package worker error"));
  partWorker.on("error", (err) => logger.error({ err }, "package part worker error"));

  const lifecycle = installPackageLifecycle(s3, config.S3_BUCKET, logger).catch((err) =>
    logger.warn({ err }, "could not install the lifecycle rule for packages/; the sweeper still expires packages"),
  );
  const sweeper = startSweeper(
    { ledger, store, s3, bucket: config.S3_BUCKET, logger },
    settings.PACKAGE_SWEEP_INTERVAL_SECONDS,
  );

  return {
    metrics: metrics.registry,
    worker,
    partWorker,
    async close() {
      await Promise.all([worker.close(), partWorker.close()]);
      await Promise.all([sweeper.stop(), lifecycle, flow.close()]);
      s3.destroy();
      await Promise.allSettled([redis, workerConnection, partConnection, flowConnection].map((c) => c.quit()));
    },
    async connections() {
      const blocking = await Promise.all([worker, partWorker].map(blockingClientOf));
      const own = [redis, workerConnection, partConnection, flowConnection];
      return [...own, ...blocking.filter((c): c is Redis => c !== undefined)];
    },
    reconnected() {
      for (const w of [worker, partWorker])
        w.startStalledCheckTimer().catch((err) => logger.error({ err }, "stalled check failed"));
    },
    disconnect() {
      for (const c of [redis, workerConnection, partConnection, flowConnection]) c.disconnect();
      for (const w of [worker, partWorker]) w.disconnect().catch(() => undefined);
    },
  };
}
