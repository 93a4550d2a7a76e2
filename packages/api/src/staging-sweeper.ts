import type { S3Client } from "@aws-sdk/client-s3";
import { deleteWhere, type Logger, type Periodic, runPeriodically } from "@mediaq/shared";
import { STAGING_PREFIX } from "./blob-store.ts";

export interface StagingSweepDeps {
  s3: S3Client;
  bucket: string;
  logger: Logger;
  /** UPLOAD_STAGING_TTL_SECONDS: how long a staged upload may wait for its completion. */
  ttlSeconds: number;
}

/**
 * Deletes staged uploads older than the TTL: presigned uploads whose client never called
 * `complete`, and streamed PUTs whose API process died after the upload finished but before
 * the move (docs/architecture.md, "Blob grants"). Returns the deleted keys. A streamed PUT cut
 * off mid-upload is an incomplete multipart upload, which listing does not show, so this sweep
 * cannot remove it (only packages/ has a lifecycle rule that aborts those, packager/lifecycle.ts).
 */
export async function sweepStagedUploads(d: StagingSweepDeps, now = Date.now()): Promise<string[]> {
  const cutoff = now - d.ttlSeconds * 1000;
  const deleted = await deleteWhere(d.s3, d.bucket, STAGING_PREFIX, (o) => (o.LastModified?.getTime() ?? now) < cutoff);
  if (deleted.length > 0) d.logger.info({ deleted: deleted.length }, "deleted staged uploads never completed");
  return deleted;
}

/** Sweeps four times per TTL, at least hourly: a leftover lives at most 1.25 TTL. */
export function startStagingSweeper(d: StagingSweepDeps): Periodic {
  return runPeriodically(
    () => sweepStagedUploads(d),
    Math.min(d.ttlSeconds / 4, 3600),
    (err) => d.logger.error({ err }, "staged-upload sweep failed"),
  );
}
