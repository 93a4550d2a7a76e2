import {
  createLogger,
  createRedis,
  createS3,
  createSnapshot,
  ensureBucket,
  formatBytes,
  listSnapshots,
  loadConfig,
  loadSnapshotSettings,
  reindexOutputs,
  restoreSnapshot,
  type SnapshotDeps,
} from "@mediaq/shared";
import type { Command } from "commander";

/** Redis + S3 from the environment for one command; always disconnected afterwards. */
async function withDeps<T>(fn: (deps: SnapshotDeps) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const redis = createRedis(config);
  const s3 = createS3(config);
  try {
    await ensureBucket(s3, config.S3_BUCKET);
    return await fn({ redis, s3, config, logger: createLogger("snapshot", { ...config, LOG_LEVEL: "warn" }) });
  } finally {
    redis.disconnect();
    s3.destroy();
  }
}

/** `mediaq snapshot create|restore|list` and `mediaq reindex`: ledger backup and recovery. */
export function registerSnapshotCommands(program: Command): void {
  const snapshot = program
    .command("snapshot")
    .description("back up the Redis ledger to S3 and restore it (configured by the environment, see README)");

  snapshot
    .command("create")
    .description("write the ledger (results, batches, model tags) to S3 as one checksummed snapshot")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const { SNAPSHOT_RETENTION } = loadSnapshotSettings();
      const made = await withDeps((deps) => createSnapshot(deps, { retention: SNAPSHOT_RETENTION }));
      if (o.json) return console.log(JSON.stringify(made, null, 2));
      console.log(`snapshot ${made.id}: ${made.keys} keys, ${formatBytes(made.size)}, sha256 ${made.sha256}`);
      if (made.deleted.length > 0)
        console.log(`retention (${SNAPSHOT_RETENTION}): deleted ${made.deleted.length} older snapshot(s)`);
    });

  snapshot
    .command("restore [id]")
    .description("load a snapshot (default: latest) into an empty Redis and re-queue unfinished items")
    .option("--force", "write over a ledger that is not empty")
    .option("--json", "machine-readable output")
    .action(async (id: string | undefined, o: { force?: boolean; json?: boolean }) => {
      const r = await withDeps((deps) => restoreSnapshot(deps, { id, force: o.force }));
      if (o.json) return console.log(JSON.stringify(r, null, 2));
      console.log(`restored snapshot ${r.id}: ${r.keys} keys, ${r.batches} batches (checksum ok)`);
      console.log(
        `re-queued ${r.requeued} unfinished job(s) (${r.wasRunning} were running)` +
          (r.completed ? `, ${r.completed} marked succeeded from their results` : "") +
          (r.orphaned ? `, ${r.orphaned} without a batch item left as they are` : "") +
          (r.countsRepaired ? `, counters of ${r.countsRepaired} batch(es) recomputed` : ""),
      );
    });

  snapshot
    .command("list")
    .description("list snapshots in S3, oldest first")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const all = await withDeps((deps) => listSnapshots(deps.s3, deps.config.S3_BUCKET));
      if (o.json) return console.log(JSON.stringify(all, null, 2));
      if (all.length === 0) return console.log("no snapshots (create one with: mediaq snapshot create)");
      for (const s of all) console.log(`${s.id}  ${formatBytes(s.size).padStart(10)}  ${s.lastModified ?? ""}`);
    });

  program
    .command("reindex")
    .description("rebuild the result index from output object metadata in S3 (when no snapshot exists)")
    .option("--concurrency <n>", "HEAD requests in flight", "16")
    .option("--json", "machine-readable output")
    .action(async (o: { concurrency: string; json?: boolean }) => {
      const concurrency = Number(o.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new Error(`--concurrency: expected a whole number >= 1, got "${o.concurrency}"`);
      const r = await withDeps((deps) => reindexOutputs(deps, { concurrency }));
      if (o.json) return console.log(JSON.stringify(r, null, 2));
      console.log(
        `reindex: ${r.objects} output objects, ${r.indexed} results indexed, ${r.known} already known, ${r.skipped.length} skipped`,
      );
      for (const s of r.skipped.slice(0, 20)) console.log(`  skipped ${s.key}: ${s.reason}`);
      if (r.skipped.length > 20) console.log(`  ... and ${r.skipped.length - 20} more (see --json)`);
    });
}
