import { createRebuildCounter, keepConnected, loadServiceConfig } from "@mediaq/shared";
import { startWorker } from "./index.ts";
import { removeOwnScratch } from "./scratch.ts";

const { config, log } = await loadServiceConfig("worker");
const redisRebuilds = createRebuildCounter();
// Rebuilt (connections, BullMQ workers) when Redis stays away too long (docs/architecture.md#redis-failover).
const starting = keepConnected(
  () =>
    startWorker(config, {
      log,
      metricsPort: config.METRICS_PORT,
      handBackAfterMs: config.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
      lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
      prefetch: config.WORKER_PREFETCH,
      diskCheckMs: config.WORKER_DISK_CHECK_SECONDS * 1000,
      redisRebuilds,
    }),
  { boundMs: config.REDIS_RECOVERY_SECONDS * 1000, log, rebuilds: redisRebuilds, closeTimeoutMs: 10_000 },
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    // A second signal: hand the current job back now instead of waiting for it.
    log.warn({ signal }, "second signal; handing the current job back");
    (await starting).current().handBack();
    return;
  }
  stopping = true;
  log.info({ signal }, "stopping: no new jobs; finishing or handing back the current one");
  try {
    const runtime = await starting; // a signal during start-up stops the worker once it has started
    await runtime.close();
    // AUTO_CLEAR_CACHE=false keeps scratch directories for debugging.
    const removed = config.AUTO_CLEAR_CACHE ? await removeOwnScratch(config.CACHE_ROOT) : 0;
    if (removed) log.info({ removed }, "removed scratch directories");
  } catch (err) {
    log.error({ err }, "error while stopping");
  }
  process.exit(0);
}

// Installed before the worker is up: a signal in the moments after "worker started" (or
// during start-up) otherwise ended the process by default, without its drain (exit by signal).
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
await starting;
