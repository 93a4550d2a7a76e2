import type { S3Client } from "@aws-sdk/client-s3";
import type { Ledger, ResultRecord } from "./ledger/index.ts";
import { objectKeys } from "./object-keys.ts";
import { deleteWhere } from "./s3.ts";

/**
 * Records an attempt's output as its job key's result, unless another attempt recorded
 * first (then that one stands), and sweeps every other attempt's object: a recorded
 * sha256 always describes the object it names, and a double run cannot fail a package.
 */
export async function recordOutput(
  ledger: Ledger,
  s3: S3Client,
  bucket: string,
  result: ResultRecord,
): Promise<{ recorded: boolean; key: string }> {
  const outcome = await ledger.jobs.recordResult(result);
  await sweepAttempts(s3, bucket, result.jobKey, outcome.key);
  return outcome;
}

/**
 * Deletes a job key's output objects other than `keep` (the recorded result's) and the
 * objects beside it (its poster): attempts that lost the race to record, or that died after
 * uploading, and a long item's segment pieces. Without `keep` (an item that failed for
 * good) every object goes. Returns the deleted keys.
 */
export async function sweepAttempts(s3: S3Client, bucket: string, jobKey: string, keep?: string): Promise<string[]> {
  const keepDir = keep === undefined ? undefined : keep.slice(0, keep.lastIndexOf("/") + 1);
  return deleteWhere(
    s3,
    bucket,
    objectKeys.jobOutputsPrefix(jobKey),
    (o) => keepDir === undefined || !o.Key?.startsWith(keepDir),
  );
}

/**
 * A long item that can never finish (failed for good, or cancelled with no batch left
 * waiting): its pieces are deleted with every other object of its attempts and forgotten,
 * so a later attempt runs every segment again (docs/architecture.md#segments).
 */
export async function dropSegmentPieces(ledger: Ledger, s3: S3Client, bucket: string, jobKey: string): Promise<void> {
  // A result recorded meanwhile (the stitch finished as the cancel came) stays.
  await sweepAttempts(s3, bucket, jobKey, (await ledger.jobs.getResult(jobKey))?.key);
  await ledger.segments.drop(jobKey);
}
