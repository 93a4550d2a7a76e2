import type { S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { type Config, loadConfig } from "../config.ts";
import type { Logger } from "../logger.ts";

/** What every snapshot operation is configured with and runs against. */

export type SnapshotSettings = Pick<Config, "SNAPSHOT_RETENTION" | "SNAPSHOT_EVERY_SECONDS">;

/** The snapshot settings of the one config schema (bad values name their variable). */
export function loadSnapshotSettings(env: NodeJS.ProcessEnv = process.env): SnapshotSettings {
  const { SNAPSHOT_RETENTION, SNAPSHOT_EVERY_SECONDS } = loadConfig(env);
  return { SNAPSHOT_RETENTION, SNAPSHOT_EVERY_SECONDS };
}

/** BullMQ queue of scheduled maintenance work (snapshots). */
export const MAINTENANCE_QUEUE = "maintenance";

export interface SnapshotDeps {
  redis: Redis;
  s3: S3Client;
  config: Config;
  logger?: Logger;
}
