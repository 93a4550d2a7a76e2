import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NotFound,
  paginateListObjectsV2,
  S3Client,
  type _Object,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Readable } from "node:stream";
import type { Config } from "./config.ts";

export type S3Config = Pick<
  Config,
  "S3_ENDPOINT" | "S3_REGION" | "S3_FORCE_PATH_STYLE" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_CHECKSUMS"
>;

export function createS3(config: S3Config): S3Client {
  return new S3Client({
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials:
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined,
    // Some S3-compatible servers reject the SDK's default integrity checksums.
    requestChecksumCalculation: config.S3_CHECKSUMS,
    responseChecksumValidation: config.S3_CHECKSUMS,
    maxAttempts: 5,
  });
}

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** Head of an object, or undefined when it does not exist. */
export async function headObject(s3: S3Client, bucket: string, key: string) {
  try {
    return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (err instanceof NotFound || (err as { name?: string }).name === "NotFound") return undefined;
    throw err;
  }
}

/**
 * Deletes the objects under `prefix` that `condemn` picks, a page of listing and one
 * DeleteObjects call at a time; returns the deleted keys. Fails on the first key S3 refuses.
 */
export async function deleteWhere(
  s3: S3Client,
  bucket: string,
  prefix: string,
  condemn: (object: _Object) => boolean = () => true,
): Promise<string[]> {
  const deleted: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key && condemn(o) ? [o.Key] : []));
    if (keys.length === 0) continue;
    const res = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
    );
    if (res.Errors?.length)
      throw new Error(`deleting under ${prefix}: ${res.Errors.map((e) => `${e.Key}: ${e.Message}`).join("; ")}`);
    deleted.push(...keys);
  }
  return deleted;
}

export async function getObjectStream(s3: S3Client, bucket: string, key: string, range?: string): Promise<Readable> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  return res.Body as Readable;
}

export interface PutStreamOptions {
  bucket: string;
  key: string;
  body: Readable | Buffer | string;
  contentType?: string;
  metadata?: Record<string, string>;
  /** Multipart part size; lib-storage's minimum is 5 MiB. */
  partSize?: number;
  queueSize?: number;
  onProgress?: (loadedBytes: number) => void;
}

/** Streams a body into S3 with multipart upload; a failed upload is aborted, never left half-visible. */
export async function putStream(s3: S3Client, o: PutStreamOptions): Promise<void> {
  const upload = new Upload({
    client: s3,
    params: { Bucket: o.bucket, Key: o.key, Body: o.body, ContentType: o.contentType, Metadata: o.metadata },
    partSize: Math.max(o.partSize ?? 8 * 1024 ** 2, 5 * 1024 ** 2),
    queueSize: o.queueSize ?? 4,
    leavePartsOnError: false,
  });
  if (o.onProgress) upload.on("httpUploadProgress", (p) => p.loaded !== undefined && o.onProgress?.(p.loaded));
  await upload.done();
}

export async function presignGet(
  s3: S3Client,
  bucket: string,
  key: string,
  expiresIn: number,
  downloadName?: string,
  /** Served as the response's Content-Type, whatever the object was stored with. */
  contentType?: string,
): Promise<string> {
  const disposition = downloadName
    ? `attachment; filename="${downloadName.replace(/["\\\r\n]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(downloadName)}`
    : undefined;
  return getSignedUrl(
    s3,
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ResponseContentDisposition: disposition,
      ResponseContentType: contentType,
    }),
    {
      expiresIn,
    },
  );
}
