import {
  type Config,
  createLogger,
  createRedis,
  createS3,
  Ledger,
  type Logger,
  PackageStore,
  type PackageJob,
  packageJobSchema,
  QUEUES,
} from "@mediaq/shared";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { buildPackage } from "./build-package.ts";
import { type PackagerSettings, packagerSettingsSchema } from "./settings.ts";
import { startSweeper } from "./sweeper.ts";

export { buildPackage, loadPlanItems } from "./build-package.ts";
export { PACKAGE_EXPIRY_KEY } from "./expiry-index.ts";
export { sanitizeEntryName, uniqueEntryNames } from "./entry-names.ts";
export type { Manifest, ManifestItem, ManifestPart } from "./manifest.ts";
export { type PackagePlan, partName, planPackage } from "./plan.ts";
export { loadPackagerSettings, type PackagerSettings } from "./settings.ts";
export { sweepExpiredPackages } from "./sweeper.ts";
export { zipSize } from "./zip-layout.ts";

export interface Packager {
  worker: Worker<PackageJob>;
  /** Stops taking jobs, lets the running ones finish, closes connections. */
  close(): Promise<void>;
}

/** Starts the package worker and the expiry sweeper in this process. */
export function startPackager(
  config: Config,
  opts: { settings?: Partial<PackagerSettings>; logger?: Logger } = {},
): Packager {
  const settings = { ...packagerSettingsSchema.parse({}), ...opts.settings };
  const logger = opts.logger ?? createLogger("packager", config);
  const redis = createRedis(config);
  const workerConnection = createRedis(config);
  const s3 = createS3(config);
  const ledger = new Ledger(redis);
  const store = new PackageStore(redis);
  const deps = {
    redis,
    ledger,
    store,
    s3,
    bucket: config.S3_BUCKET,
    logger,
    partConcurrency: settings.PACKAGE_PART_CONCURRENCY,
  };

  const process = async (job: Job<PackageJob>) => {
    const { packageId } = packageJobSchema.parse(job.data);
    try {
      await buildPackage(deps, packageId);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const attempts = job.opts.attempts ?? 1;
      const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
      logger.error({ packageId, err, attempt: job.attemptsMade + 1, final }, "package build failed");
      // Until the last attempt the record stays "building"; BullMQ retries with backoff.
      if (final) {
        const record = await store.update(packageId, { state: "failed", error });
        if (record) await ledger.publish([record.batchId], { type: "package", packageId, state: "failed" });
      }
      throw err;
    }
  };

  const worker = new Worker<PackageJob>(QUEUES.package, process, {
    connection: workerConnection,
    prefix: config.QUEUE_PREFIX,
    concurrency: settings.PACKAGE_JOB_CONCURRENCY,
  });
  worker.on("error", (err) => logger.error({ err }, "package worker error"));
  const sweeper = startSweeper(
    { redis, store, s3, bucket: config.S3_BUCKET, logger },
    settings.PACKAGE_SWEEP_INTERVAL_SECONDS,
  );

  return {
    worker,
    async close() {
      await worker.close();
      await sweeper.stop();
      s3.destroy();
      await Promise.allSettled([redis.quit(), workerConnection.quit()]);
    },
  };
}
