import fs from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { getObjectStream, HashingStream, objectKeys } from "@mediaq/shared";
import { BadInputError } from "./errors.ts";

/** Opens a blob's bytes; a blob that does not exist is bad input (it will never appear by retrying). */
export async function fetchBlob(
  s3: S3Client,
  bucket: string,
  sha256: string,
  label: string,
  consume: (body: Readable) => Promise<void>,
): Promise<void> {
  let body: Readable;
  try {
    body = await getObjectStream(s3, bucket, objectKeys.blob(sha256));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === "NoSuchKey" || name === "NotFound")
      throw new BadInputError(`${label} blob ${sha256} does not exist; upload it first`);
    throw err;
  }
  await consume(body);
}

/** Downloads a blob into a file (the scratch directory), checking it against its hash. */
export async function downloadBlob(
  s3: S3Client,
  bucket: string,
  sha256: string,
  label: string,
  file: string,
): Promise<number> {
  const hash = new HashingStream();
  await fetchBlob(s3, bucket, sha256, label, (body) => pipeline(body, hash, fs.createWriteStream(file)));
  if (hash.digest() !== sha256) throw new Error(`${label} blob ${sha256} does not match its hash (corrupt download?)`);
  return hash.bytes;
}
