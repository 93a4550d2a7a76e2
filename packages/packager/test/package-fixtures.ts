import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { startInfra } from "../../../test/harness/infra.ts";
import {
  type Config,
  computePackageId,
  createPackageQueue,
  createRedis,
  createS3,
  ensureBucket,
  HashingStream,
  Ledger,
  OUTPUT_FILE,
  objectKeys,
  type PackageRecord,
  packageJobId,
  PackageStore,
  presignGet,
  putStream,
  QUEUES,
  sha256Hex,
} from "@mediaq/shared";

export const hex = () => randomBytes(32).toString("hex");

/** Real Redis + S3 (startInfra) with the clients a packager test reads and writes through. */
export async function startPackagerInfra() {
  const infra = await startInfra();
  const bucket = infra.config.S3_BUCKET;
  const s3 = createS3(infra.config);
  await ensureBucket(s3, bucket);
  const redis = createRedis(infra.config);
  return {
    infra,
    bucket,
    s3,
    redis,
    ledger: new Ledger(redis),
    store: new PackageStore(redis),
    async stop() {
      await redis.quit();
      s3.destroy();
      await infra.stop();
    },
  };
}
export type PackagerInfra = Awaited<ReturnType<typeof startPackagerInfra>>;

export interface FixtureItem {
  name: string;
  /** Output bytes; null = the item failed. */
  data: Buffer | null;
  jobKey: string;
}

/** An empty batch in the ledger, with a random model hash. */
async function newBatch(ledger: Ledger, tenant: string): Promise<{ batchId: string; model: string }> {
  const batchId = `b${randomBytes(6).toString("hex")}`;
  const model = hex();
  await ledger.batches.create(
    { id: batchId, tenant, model, adapter: "wav2lip", params: {}, createdAt: new Date().toISOString() },
    [],
  );
  return { batchId, model };
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
  const { batchId, model } = await newBatch(o.ledger, o.tenant);
  const fixture = items.map((i) => ({
    name: i.name,
    data: i.size === null ? null : randomBytes(i.size),
    jobKey: hex(),
  }));
  await o.ledger.batches.append(
    batchId,
    fixture.map((f) => ({
      name: f.name,
      jobKey: f.jobKey,
      inputs: { video: hex(), audio: hex() },
      params: { box: null },
    })),
  );
  for (const f of fixture) {
    await o.ledger.jobs.transition(f.jobKey, "running");
    if (!f.data) {
      await o.ledger.jobs.transition(f.jobKey, "failed", "no face found in the video");
      continue;
    }
    const key = objectKeys.output(f.jobKey, OUTPUT_FILE);
    await putStream(o.s3, { bucket: o.bucket, key, body: f.data, contentType: "video/mp4" });
    await o.ledger.jobs.recordResult({
      jobKey: f.jobKey,
      key,
      sha256: sha256Hex(f.data),
      size: f.data.length,
      model,
      adapter: "wav2lip",
      inputs: { video: hex(), audio: hex() },
      params: { box: null, pads: [0, 10, 0, 0] },
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
  /** Pack only these items (as the API does once it fills itemIndexes). */
  itemIndexes?: number[],
): Promise<PackageRecord> {
  const chosen = batch.items.flatMap((item, index) =>
    item.data && (!itemIndexes || itemIndexes.includes(index)) ? [{ item, index }] : [],
  );
  const id = computePackageId({
    tenant: o.tenant,
    batchId: batch.batchId,
    partSize,
    entries: chosen.map(({ item }) => [item.name, sha256Hex(item.data as Buffer)] as [string, string]),
  });
  const now = Date.now();
  const record: PackageRecord = {
    id,
    tenant: o.tenant,
    batchId: batch.batchId,
    partSize,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + expiresInMs).toISOString(),
    state: "queued",
    parts: [],
    ...(itemIndexes ? { itemIndexes: chosen.map((c) => c.index) } : {}),
  };
  const { buildId } = await o.store.request(record);
  const connection = createRedis(o.config);
  const queue = createPackageQueue(connection, o.config);
  await queue.add(QUEUES.package, { packageId: id }, { jobId: packageJobId(id, buildId) });
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

/** Asks again for a failed package exactly as the API does: back to queued, retry its job. */
export async function requestAgain(o: { store: PackageStore; config: Config }, id: string): Promise<void> {
  const record = await o.store.get(id);
  if (!record) throw new Error(`package ${id} is gone`);
  const { buildId } = await o.store.request(record);
  const connection = createRedis(o.config);
  const queue = createPackageQueue(connection, o.config);
  await queue.add(QUEUES.package, { packageId: id }, { jobId: packageJobId(id, buildId) });
  await queue.close();
  await connection.quit();
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The packager service as its own process (node itself, so the pid is the packager's). */
export function spawnPackager(env: Record<string, string>): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, [path.join(here, "../src/main.ts")], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr?.on("data", (c) => {
    out += c;
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (c) => {
      out += c;
      if (out.includes('"packager started"')) resolve();
    });
    child.on("exit", (code) => reject(new Error(`packager exited with ${code} before starting: ${out}`)));
  });
  started.catch(() => {});
  return { child, started };
}

/**
 * Output bytes made on the fly: a 1 MiB pseudo-random block, varied per MiB, so a big
 * output never sits in memory and misplaced chunks would not go unnoticed.
 */
export function generatedBytes(size: number, seed: number): Readable {
  const block = createHash("sha512").update(String(seed)).digest();
  const base = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < base.length; i += block.length) block.copy(base, i);
  return Readable.from(
    (function* () {
      for (let at = 0, n = 0; at < size; n++) {
        const chunk = Buffer.from(base.subarray(0, Math.min(base.length, size - at)));
        chunk.writeUInt32LE(n, 0);
        at += chunk.length;
        yield chunk;
      }
    })(),
  );
}

/** Like makeBatch, but each output is streamed into S3 (hashed on the way), never held whole. */
export async function makeLargeBatch(
  o: { ledger: Ledger; s3: S3Client; bucket: string; tenant: string },
  items: { name: string; size: number }[],
): Promise<{ batchId: string; items: (FixtureItem & { sha256: string; size: number })[] }> {
  const { batchId, model } = await newBatch(o.ledger, o.tenant);
  const fixture = items.map((i) => ({ ...i, data: null, jobKey: hex(), sha256: "" }));
  await o.ledger.batches.append(
    batchId,
    fixture.map((f) => ({ name: f.name, jobKey: f.jobKey, inputs: { video: hex(), audio: hex() }, params: {} })),
  );
  for (const [i, f] of fixture.entries()) {
    await o.ledger.jobs.transition(f.jobKey, "running");
    const key = objectKeys.output(f.jobKey, OUTPUT_FILE);
    const hashing = new HashingStream();
    const uploaded = putStream(o.s3, {
      bucket: o.bucket,
      key,
      body: hashing,
      contentType: "video/mp4",
      partSize: 64 * 1024 ** 2,
    });
    await pipeline(generatedBytes(f.size, i), hashing);
    await uploaded;
    f.sha256 = hashing.digest();
    await o.ledger.jobs.recordResult({
      jobKey: f.jobKey,
      key,
      sha256: f.sha256,
      size: f.size,
      model,
      adapter: "wav2lip",
      inputs: { video: hex(), audio: hex() },
      params: {},
      completedAt: new Date().toISOString(),
    });
  }
  return { batchId, items: fixture };
}
