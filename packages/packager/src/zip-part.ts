import { pipeline, type Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { getObjectStream, HashingStream, putStream } from "@mediaq/shared";
import { UnrecoverableError } from "bullmq";
import { type Archiver, createZipArchive, type EntryData } from "./archiver.ts";
import { MANIFEST_NAME } from "./manifest.ts";

export interface PartSource {
  /** Entry name inside the ZIP. */
  entry: string;
  /** S3 key of the output to copy in. */
  key: string;
  size: number;
  sha256: string;
}

export interface BuildPartOptions {
  s3: S3Client;
  bucket: string;
  /** Where the part goes. */
  key: string;
  manifest: Buffer;
  sources: PartSource[];
  /** Timestamp of every entry, so a rebuilt part is byte-identical. */
  date: Date;
  /** Planned size of the part: sizes the upload's parts (S3 allows at most 10,000). */
  size?: number;
  /** Called as archive bytes flow to S3 (total so far for this part). */
  onBytes?: (bytes: number) => void;
}

/**
 * Streams one standalone ZIP part from S3 outputs into a multipart upload. Nothing
 * touches local disk; memory is bounded by the stream buffers and the upload's part queue.
 */
export async function buildPart(o: BuildPartOptions): Promise<{ size: number; sha256: string }> {
  return writePart({
    manifest: o.manifest,
    date: o.date,
    onBytes: o.onBytes,
    sources: o.sources.map((src) => ({
      entry: src.entry,
      size: src.size,
      sha256: src.sha256,
      origin: `output ${src.key}`,
      open: () => getObjectStream(o.s3, o.bucket, src.key),
    })),
    sink: (body) =>
      putStream(o.s3, { bucket: o.bucket, key: o.key, body, contentType: "application/zip", ...uploadShape(o.size) }),
  });
}

/** One entry's content as writePart reads it. */
export interface PartInput {
  entry: string;
  size: number;
  sha256: string;
  /** Where the content comes from, for error messages (e.g. "output <key>"). */
  origin: string;
  /** Opened only when the entry's turn comes, so one source is read at a time. */
  open: () => Promise<Readable>;
}

export interface WritePartOptions {
  manifest: Buffer;
  sources: PartInput[];
  /** Timestamp of every entry, so a rebuilt part is byte-identical. */
  date: Date;
  /** Consumes the archive bytes; resolves once they are stored (rejecting stops the write). */
  sink: (body: Readable) => Promise<void>;
  /** Called as archive bytes flow to the sink (total so far for this part). */
  onBytes?: (bytes: number) => void;
}

/**
 * Writes one standalone ZIP part: manifest.json first, then each source one after
 * another, through archiver (store mode) and a hash into the sink. Each source is hashed
 * on the way in and must match its recorded size and sha256.
 */
export async function writePart(o: WritePartOptions): Promise<{ size: number; sha256: string }> {
  const archive = createZipArchive();
  const hashing = new HashingStream();
  // The first error anywhere (source read, archiver, sink) stops everything and is reported.
  let failure: Error | undefined;
  let rejectFailed: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => {});
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    rejectFailed(err);
    archive.abort();
    hashing.destroy(err);
  };
  archive.on("error", fail);
  archive.on("warning", fail);
  archive.pipe(hashing);

  // Polled rather than read from "data" events, which would switch the stream to
  // flowing mode and bypass the sink's backpressure.
  const ticker = o.onBytes ? setInterval(() => o.onBytes?.(hashing.bytes), 250) : undefined;

  const stored = o.sink(hashing);
  stored.catch(fail);
  const write = (async () => {
    archive.append(o.manifest, { name: MANIFEST_NAME, date: o.date });
    for (const src of o.sources) await Promise.race([appendSource(archive, o.date, src), failed]);
    await Promise.race([archive.finalize(), failed]);
  })();
  write.catch(fail);
  try {
    await Promise.race([Promise.all([write, stored]), failed]);
  } finally {
    clearInterval(ticker);
  }
  o.onBytes?.(hashing.bytes);
  return { size: hashing.bytes, sha256: hashing.digest() };
}

const MiB = 1024 ** 2;
/**
 * Multipart shape of a part upload. Memory per part is about (queueSize + 1) x partSize,
 * plus the chunks lib-storage joins into each part until they are collected, so a queue of
 * one keeps a packager's RSS bounded whatever the package size (with two, the growth over a
 * collected idle heap measured 61-66 MB in CI against the 64 MB bound of
 * packages/packager/test/memory.test.ts); part size grows only when 10,000 parts of 8 MiB
 * (78 GiB) would not hold the part. The next part fills while one uploads.
 */
export function uploadShape(size = 0): { partSize: number; queueSize: number } {
  return { partSize: Math.max(8 * MiB, Math.ceil(size / 9_000 / MiB) * MiB), queueSize: 1 };
}

async function appendSource(archive: Archiver, date: Date, src: PartInput): Promise<void> {
  const body = await src.open();
  const check = new HashingStream();
  const appended = new Promise<void>((resolve, reject) => {
    const onEntry = (data: EntryData) => {
      if (data.name !== src.entry) return;
      archive.off("entry", onEntry);
      resolve();
    };
    archive.on("entry", onEntry);
    pipeline(body, check, (err) => {
      if (err) reject(new Error(`reading ${src.origin} for "${src.entry}" failed: ${err.message}`));
    });
  });
  archive.append(check, { name: src.entry, date });
  await appended;
  const sha256 = check.digest();
  if (check.bytes !== src.size || sha256 !== src.sha256)
    // The stored content is not what the ledger recorded: retrying cannot fix that.
    throw new UnrecoverableError(
      `${src.origin} for "${src.entry}" does not match its result record ` +
        `(${check.bytes} bytes, sha256 ${sha256}; expected ${src.size} bytes, ${src.sha256})`,
    );
}
