/**
 * Ledger snapshots (docs/architecture.md#snapshots). Redis holds the ledger, S3
 * holds the truth: a snapshot is one gzip object of JSON lines — a header, one line per
 * ledger key (typed reads, so it loads into any Redis version), and a trailer carrying
 * the SHA-256 of every line before it. Only keys ledger/keys.ts marks as ledger data are
 * carried; the queues are rebuilt from the ledger.
 */

export {
  applyRetention,
  createSnapshot,
  listSnapshots,
  resolveSnapshotId,
  type SnapshotInfo,
} from "./create.ts";
export {
  isSnapshotId,
  newSnapshotId,
  readSnapshot,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  SnapshotEncoder,
  type SnapshotEntry,
  SnapshotError,
  type SnapshotHeader,
  snapshotEntrySchema,
} from "./format.ts";
export { countLedgerKeys, isLedgerKey } from "./ledger-keys.ts";
export { OUTPUT_METADATA_KEYS, type ReindexReport, reindexOutputs } from "./reindex.ts";
export { type RestoreReport, restoreSnapshot } from "./restore.ts";
export { getSnapshotSchedule, scheduleSnapshots, startSnapshotWorker } from "./schedule.ts";
export {
  loadSnapshotSettings,
  MAINTENANCE_QUEUE,
  type SnapshotDeps,
  type SnapshotSettings,
} from "./settings.ts";
