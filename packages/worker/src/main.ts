import { createLogger, loadConfig } from "@mediaq/shared";
import { z } from "zod";
import { startWorker } from "./index.ts";
import { removeOwnScratch } from "./scratch.ts";
import { loadWorkerSettings } from "./settings.ts";

// Worker-only settings (the shared schema holds the ones every service reads).
const workerEnv = z.object({
  /** Overrides METRICS_PORT for the worker (handy when a packager runs on the same host). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** On SIGTERM, how long the current job may keep running before it is handed back. */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).default(30),
  /** BullMQ lock duration: how soon after a worker dies its job counts as stalled (and runs elsewhere). */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(200).default(30_000),
  /** How often each worker looks for jobs whose worker died. */
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
});

const config = loadConfig();
const log = createLogger("worker", config);
const env = workerEnv.parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")));
const handle = await startWorker(config, {
  log,
  metricsPort: env.WORKER_METRICS_PORT,
  handBackAfterMs: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
  lockDurationMs: env.WORKER_LOCK_DURATION_MS,
  stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
  ...prefetchAndDisk(),
});

/** WORKER_PREFETCH and WORKER_DISK_CHECK_SECONDS (settings.ts). */
function prefetchAndDisk() {
  const s = loadWorkerSettings();
  return { prefetch: s.WORKER_PREFETCH, diskCheckMs: s.WORKER_DISK_CHECK_SECONDS * 1000 };
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    // A second signal: hand the current job back now instead of waiting for it.
    log.warn({ signal }, "second signal; handing the current job back");
    handle.handBack();
    return;
  }
  stopping = true;
  log.info({ signal }, "stopping: no new jobs; finishing or handing back the current one");
  try {
    await handle.close();
    // AUTO_CLEAR_CACHE=false keeps scratch directories for debugging.
    const removed = config.AUTO_CLEAR_CACHE ? await removeOwnScratch(config.CACHE_ROOT) : 0;
    if (removed) log.info({ removed }, "removed scratch directories");
  } catch (err) {
    log.error({ err }, "error while stopping");
  }
  process.exit(0);
}

process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
