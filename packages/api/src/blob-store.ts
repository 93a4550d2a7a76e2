import { randomUUID } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { formatBytes, getObjectStream, HashingStream, headObject, objectKeys, putStream } from "@mediaq/shared";
import { HttpProblem } from "./problem.ts";

export interface StoredBlob {
  sha256: string;
  size: number;
}

/** Fails the stream once more than `max` bytes went through it. */
function byteLimit(max: number, problem: () => HttpProblem): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(problem());
      else done(null, chunk);
    },
  });
}

/** 413 for an upload over `max` bytes, pointing to the presigned path. */
export const blobTooLarge = (max: number) =>
  new HttpProblem(
    413,
    "blob-too-large",
    "Payload too large",
    `The body exceeds ${formatBytes(max)}; upload larger files with POST /v1/blobs/uploads (presigned PUT).`,
  );

const deleteQuietly = (s3: S3Client, bucket: string, key: string) =>
  s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);

/** The end of a pipeline that only hashes. */
async function discard(source: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of source);
}

/** Where uploads (streamed and presigned) wait to be hashed; what is left here is deleted by the staging sweeper. */
export const STAGING_PREFIX = "tmp/uploads/";
export const stagingKey = (id: string = randomUUID()) => `${STAGING_PREFIX}${id}`;

/**
 * Moves a staged object whose bytes hash to `sha256` to blobs/sha256/<hex>. The same S3
 * work is done whether the content is stored already or not (when it is, the copy goes to
 * a scratch key instead of over the blob, which other tenants may be reading), so the time
 * an upload takes says nothing about other tenants' blobs (docs/architecture.md#blob-grants).
 */
async function placeBlob(s3: S3Client, bucket: string, staged: string, sha256: string): Promise<void> {
  const exists = (await headObject(s3, bucket, objectKeys.blob(sha256))) !== undefined;
  const scratch = stagingKey();
  try {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: exists ? scratch : objectKeys.blob(sha256),
        CopySource: `${bucket}/${staged}`,
        MetadataDirective: "REPLACE",
        ContentType: "application/octet-stream",
        Metadata: { sha256 },
      }),
    );
  } finally {
    await Promise.all([deleteQuietly(s3, bucket, staged), deleteQuietly(s3, bucket, scratch)]);
  }
}

/**
 * Streams a body into S3 under a staging key while hashing it (memory stays bounded by
 * the multipart part size), then places it at blobs/sha256/<hex>. The hash is only known
 * at the end, hence the staging key and the copy.
 */
export async function storeBlob(s3: S3Client, bucket: string, body: Readable, maxBytes: number): Promise<StoredBlob> {
  const staged = stagingKey();
  const hasher = new HashingStream();
  try {
    // Both sides must settle before the staged object is deleted below.
    const [read, write] = await Promise.allSettled([
      pipeline(
        body,
        byteLimit(maxBytes, () => blobTooLarge(maxBytes)),
        hasher,
      ),
      putStream(s3, { bucket, key: staged, body: hasher, contentType: "application/octet-stream" }),
    ]);
    if (read.status === "rejected") throw read.reason;
    if (write.status === "rejected") throw write.reason;
    if (hasher.bytes === 0) throw new HttpProblem(400, "empty-body", "Bad request", "The request body is empty.");
    const sha256 = hasher.digest();
    await placeBlob(s3, bucket, staged, sha256);
    return { sha256, size: hasher.bytes };
  } finally {
    // An aborted request leaves the staged object behind at worst; never the blob key.
    await deleteQuietly(s3, bucket, staged);
  }
}

/**
 * Checks a presigned upload: hashes the bytes it places, never the staged object itself.
 * The presigned PUT can be replayed until it expires, so the staged key may take other
 * bytes after it was read; the API first copies it to a scratch key no client can write,
 * hashes that copy and places that copy. Only bytes that hash to the declared SHA-256 (and
 * have the declared size) are placed; others are deleted and refused. S3 and MinIO refuse
 * other bytes at the PUT already (the checksum is signed), but not every S3 server checks
 * it, so the API never takes a server's word for it. The cost is one server-side copy and
 * one read of the object by the API (docs/architecture.md#blob-grants).
 */
export async function verifyStagedBlob(
  s3: S3Client,
  bucket: string,
  staged: string,
  declared: StoredBlob,
): Promise<StoredBlob> {
  const snapshot = stagingKey();
  const hasher = new HashingStream();
  try {
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: snapshot, CopySource: `${bucket}/${staged}` }));
    const tooMany = () =>
      new HttpProblem(
        400,
        "upload-mismatch",
        "Bad request",
        `The uploaded object is larger than the declared ${declared.size} bytes.`,
      );
    await pipeline(await getObjectStream(s3, bucket, snapshot), byteLimit(declared.size, tooMany), hasher, discard);
    const sha256 = hasher.digest();
    if (sha256 !== declared.sha256 || hasher.bytes !== declared.size)
      throw new HttpProblem(
        400,
        "upload-mismatch",
        "Bad request",
        `The uploaded bytes (${hasher.bytes} bytes, SHA-256 ${sha256}) do not match the declared ${declared.size} bytes with SHA-256 ${declared.sha256}; they were discarded. Ask for a new upload and send the file that was hashed.`,
      );
    await placeBlob(s3, bucket, snapshot, sha256);
    return declared;
  } finally {
    await Promise.all([deleteQuietly(s3, bucket, staged), deleteQuietly(s3, bucket, snapshot)]);
  }
}
