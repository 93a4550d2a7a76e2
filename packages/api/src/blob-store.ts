import { randomUUID } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { formatBytes, HashingStream, headObject, objectKeys, putStream } from "@mediaq/shared";
import { HttpProblem } from "./problem.ts";

export interface StoredBlob {
  sha256: string;
  size: number;
  /** False when the content was stored already. */
  created: boolean;
}

/** Fails the stream once more than `max` bytes went through it. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max)
        done(
          new HttpProblem(
            413,
            "blob-too-large",
            "Payload too large",
            `The body exceeds ${formatBytes(max)}; upload larger files with POST /v1/blobs/uploads (presigned PUT).`,
          ),
        );
      else done(null, chunk);
    },
  });
}

/**
 * Streams a body into S3 under a temporary key while hashing it (memory stays bounded by
 * the multipart part size), then places it at blobs/sha256/<hex> unless that exists. The
 * hash is only known at the end, hence the temporary key and the copy.
 */
export async function storeBlob(s3: S3Client, bucket: string, body: Readable, maxBytes: number): Promise<StoredBlob> {
  const tmpKey = `tmp/uploads/${randomUUID()}`;
  const hasher = new HashingStream();
  try {
    // Both sides must settle before the temporary object is deleted below.
    const [read, write] = await Promise.allSettled([
      pipeline(body, byteLimit(maxBytes), hasher),
      putStream(s3, { bucket, key: tmpKey, body: hasher, contentType: "application/octet-stream" }),
    ]);
    if (read.status === "rejected") throw read.reason;
    if (write.status === "rejected") throw write.reason;
    if (hasher.bytes === 0) throw new HttpProblem(400, "empty-body", "Bad request", "The request body is empty.");
    const sha256 = hasher.digest();
    const key = objectKeys.blob(sha256);
    if (await headObject(s3, bucket, key)) return { sha256, size: hasher.bytes, created: false };
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: `${bucket}/${tmpKey}`,
        MetadataDirective: "REPLACE",
        ContentType: "application/octet-stream",
        Metadata: { sha256 },
      }),
    );
    return { sha256, size: hasher.bytes, created: true };
  } finally {
    // An aborted request leaves the temporary object behind at worst; never the blob key.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: tmpKey })).catch(() => undefined);
  }
}
