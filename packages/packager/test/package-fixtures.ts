import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type Config,
  computePackageId,
  createPackageQueue,
  createRedis,
  type Ledger,
  OUTPUT_FILE,
  objectKeys,
  type PackageRecord,
  type PackageStore,
  presignGet,
  putStream,
  QUEUES,
  sha256Hex,
} from "@mediaq/shared";

export const hex = () => randomBytes(32).toString("hex");

export interface FixtureItem {
  name: string;
  /** Output bytes; null = the item failed. */
  data: Buffer | null;
  jobKey: string;
}

/**
 * A batch as the API and worker leave it: items appended through the real Ledger, each
 * succeeded item's output in S3 under its job key plus a result record; failed items
 * moved to "failed" with a reason.
 */
export async function makeBatch(
  o: { ledger: Ledger; s3: S3Client; bucket: string; tenant: string },
  items: { name: string; size: number | null }[],
): Promise<{ batchId: string; items: FixtureItem[]; model: string }> {
  const batchId = `b${randomBytes(6).toString("hex")}`;
  const model = hex();
  await o.ledger.createBatch({
    id: batchId,
    tenant: o.tenant,
    model,
    adapter: "wav2lip",
    params: {},
    createdAt: new Date().toISOString(),
  });
  const fixture = items.map((i) => ({
    name: i.name,
    data: i.size === null ? null : randomBytes(i.size),
    jobKey: hex(),
  }));
  await o.ledger.appendItems(
    batchId,
    fixture.map((f) => ({
      name: f.name,
      jobKey: f.jobKey,
      inputs: { video: hex(), audio: hex() },
      params: { box: null },
    })),
  );
  for (const f of fixture) {
    await o.ledger.transition(f.jobKey, "running");
    if (!f.data) {
      await o.ledger.transition(f.jobKey, "failed", "no face found in the video");
      continue;
    }
    const key = objectKeys.output(f.jobKey, OUTPUT_FILE);
    await putStream(o.s3, { bucket: o.bucket, key, body: f.data, contentType: "video/mp4" });
    await o.ledger.recordResult({
      jobKey: f.jobKey,
      key,
      sha256: sha256Hex(f.data),
      size: f.data.length,
      model,
      adapter: "wav2lip",
      inputs: { video: hex(), audio: hex() },
      params: { box: null, pads: [0, 10, 0, 0], batchSize: 16 },
      completedAt: new Date().toISOString(),
      timings: { inferMs: 12 },
    });
  }
  return { batchId, items: fixture, model };
}

/** Creates the package record and queues its job exactly as the API does. */
export async function requestPackage(
  o: { store: PackageStore; config: Config; tenant: string },
  batch: { batchId: string; items: FixtureItem[] },
  partSize: number,
  expiresInMs = 3600_000,
): Promise<PackageRecord> {
  const id = computePackageId({
    tenant: o.tenant,
    batchId: batch.batchId,
    partSize,
    entries: batch.items.flatMap((i) => (i.data ? [[i.name, sha256Hex(i.data)] as [string, string]] : [])),
  });
  const now = Date.now();
  const { record } = await o.store.create({
    id,
    tenant: o.tenant,
    batchId: batch.batchId,
    partSize,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + expiresInMs).toISOString(),
    state: "queued",
    parts: [],
  });
  const connection = createRedis(o.config);
  const queue = createPackageQueue(connection, o.config);
  await queue.add(QUEUES.package, { packageId: id }, { jobId: id });
  await queue.close();
  await connection.quit();
  return record;
}

export async function waitForPackage(store: PackageStore, id: string, timeoutMs = 60_000): Promise<PackageRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await store.get(id);
    if (record && (record.state === "ready" || record.state === "failed")) return record;
    if (Date.now() > deadline) throw new Error(`package ${id} still ${record?.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Downloads an object through a presigned URL with plain fetch, as a user would. */
export async function download(s3: S3Client, bucket: string, key: string, name: string): Promise<Buffer> {
  const url = await presignGet(s3, bucket, key, 600, name);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Every regular file under dir, as paths relative to dir. */
export function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}
