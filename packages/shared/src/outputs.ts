import { DeleteObjectsCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { objectKeys } from "./object-keys.ts";

/**
 * Deletes a job key's output objects other than `keep` (the recorded result's): attempts
 * that lost the race to record, or that died after uploading. Returns the deleted keys.
 */
export async function sweepAttempts(s3: S3Client, bucket: string, jobKey: string, keep: string): Promise<string[]> {
  const stale: string[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: objectKeys.jobOutputsPrefix(jobKey) },
  ))
    for (const o of page.Contents ?? []) if (o.Key && o.Key !== keep) stale.push(o.Key);
  for (let i = 0; i < stale.length; i += 1000)
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: stale.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  return stale;
}
