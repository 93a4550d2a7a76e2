import { createHash } from "node:crypto";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import pLimit from "p-limit";
import type { ApiClient } from "../api-client.ts";

/** Blobs uploaded at once: enough to hide the round trips, few enough to share the link. */
export const UPLOAD_CONCURRENCY = 4;

export interface LocalBlob {
  file: string;
  sha256: string;
  size: number;
}

/** SHA-256 of a file, streamed; onBytes reports progress. */
export async function hashFile(file: string, onBytes: (n: number) => void = () => {}): Promise<LocalBlob> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(fs.createReadStream(file), async function* (source) {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      onBytes(chunk.length);
    }
    yield* [];
  });
  return { file, sha256: hash.digest("hex"), size };
}

/**
 * Uploads the blobs this API key does not hold yet, UPLOAD_CONCURRENCY at a time, straight to S3 through presigned PUTs,
 * each completed so the API checks its hash and grants it. Returns how many were uploaded;
 * a blob the key holds already is skipped, so a re-run uploads nothing.
 */
export async function uploadMissing(
  client: ApiClient,
  blobs: LocalBlob[],
  onDone: (b: LocalBlob, uploaded: boolean) => void = () => {},
): Promise<number> {
  let uploaded = 0;
  const unique = [...new Map(blobs.map((b) => [b.sha256, b])).values()];
  const limit = pLimit(UPLOAD_CONCURRENCY);
  await Promise.all(
    unique.map((blob) =>
      limit(async () => {
        const offer = await client.requestUpload(blob.sha256, blob.size);
        if (!offer.exists) {
          await client.uploadPresigned(offer.url, offer.headers, blob.file);
          await client.completeUpload(offer.uploadId);
          uploaded++;
        }
        onDone(blob, !offer.exists);
      }),
    ),
  );
  return uploaded;
}
