/**
 * Packager throughput, against what the same machine does without the packager:
 * (a) S3 -> ZIP part -> S3 (through BullMQ, with the flow) vs a plain S3 get-and-put copy
 *     of the same bytes with the same concurrency;
 * (b) ZIP (archiver, store mode) + SHA-256 of local files vs `zip -0 -q - files | sha256sum`.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createLogger,
  createRedis,
  createS3,
  ensureBucket,
  getObjectStream,
  HashingStream,
  Ledger,
  PackageStore,
  putStream,
  OUTPUT_FILE,
  objectKeys,
} from "@mediaq/shared";
import { createZipArchive, startPackager } from "@mediaq/packager";
import {
  generatedBytes,
  makeLargeBatch,
  requestPackage,
  waitForPackage,
} from "../../packages/packager/test/package-fixtures.ts";
import { startInfra } from "../harness/infra.ts";

const MB = 1024 * 1024;
const COUNT = Number(process.env.BENCH_OUTPUTS ?? 20);
const SIZE = Number(process.env.BENCH_OUTPUT_MB ?? 10) * MB;
const CONCURRENCY = 2; // the packager's default PACKAGE_PART_CONCURRENCY

const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export default async function bench(): Promise<void> {
  const infra = await startInfra({ env: { LOG_LEVEL: "silent" } });
  const s3 = createS3(infra.config);
  const bucket = infra.config.S3_BUCKET;
  const redis = createRedis(infra.config);
  const rows: [string, string, string, string][] = [];
  try {
    await ensureBucket(s3, bucket);
    const store = new PackageStore(redis);
    const batch = await makeLargeBatch(
      { ledger: new Ledger(redis), s3, bucket, tenant: "bench" },
      Array.from({ length: COUNT }, (_, i) => ({ name: `clip-${i}`, size: SIZE })),
    );
    const keys = batch.items.map((i) => objectKeys.output(i.jobKey, OUTPUT_FILE));
    const bytes = COUNT * SIZE;

    // (a) plain copy: GetObject streamed into a multipart upload, CONCURRENCY at a time.
    let start = performance.now();
    await mapLimit(keys, CONCURRENCY, async (key) => {
      await putStream(s3, { bucket, key: `bench-copy/${key}`, body: await getObjectStream(s3, bucket, key) });
    });
    const copyMs = performance.now() - start;

    // (a) the packager: ask for a package (4 parts) and wait until it is ready.
    const packager = startPackager(infra.config, {
      logger: createLogger("bench", { LOG_LEVEL: "silent", LOG_PRETTY: false }),
      settings: { PACKAGE_SWEEP_INTERVAL_SECONDS: 3600 },
    });
    start = performance.now();
    const requested = await requestPackage(
      { store, config: infra.config, tenant: "bench" },
      { batchId: batch.batchId, items: batch.items.map((i) => ({ ...i, data: Buffer.from(i.sha256) })) },
      Math.ceil(bytes / 4) + MB,
    );
    const record = await waitForPackage(store, requested.id, 600_000);
    const packageMs = performance.now() - start;
    await packager.close();
    if (record.state !== "ready") throw new Error(`package ${record.state}: ${record.error}`);
    const packaged = record.parts.reduce((s, p) => s + p.size, 0);
    const copyRate = mbps(bytes, copyMs);
    const packageRate = mbps(packaged, packageMs);
    rows.push(["S3 -> S3 plain copy (get+put)", `${(bytes / MB).toFixed(0)} MB`, copyRate.toFixed(1), "1.00"]);
    rows.push([
      `S3 -> ZIP -> S3 package (${record.parts.length} parts)`,
      `${(packaged / MB).toFixed(0)} MB`,
      packageRate.toFixed(1),
      (packageRate / copyRate).toFixed(2),
    ]);

    // (b) local files: archiver store mode into SHA-256 vs zip -0 | sha256sum.
    const dir = fs.mkdtempSync(path.join(infra.dir, "bench-"));
    const files: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const file = path.join(dir, `clip-${i}.mp4`);
      await pipeline(generatedBytes(SIZE, i), fs.createWriteStream(file));
      files.push(file);
    }
    start = performance.now();
    const archive = createZipArchive();
    const hash = new HashingStream();
    // The hash is the end of the line: its output is drained, not kept.
    const hashed = pipeline(archive, hash, new Writable({ write: (_chunk, _enc, done) => done() }));
    for (const file of files) archive.append(fs.createReadStream(file), { name: path.basename(file) });
    await archive.finalize();
    await hashed;
    const ourMs = performance.now() - start;
    const ourBytes = hash.bytes;
    start = performance.now();
    execSync(`zip -0 -q - ${files.map((f) => path.basename(f)).join(" ")} | sha256sum`, { cwd: dir, stdio: "ignore" });
    const zipMs = performance.now() - start;
    const zipRate = mbps(ourBytes, zipMs);
    const ourRate = mbps(ourBytes, ourMs);
    rows.push(["local zip -0 | sha256sum", `${(ourBytes / MB).toFixed(0)} MB`, zipRate.toFixed(1), "1.00"]);
    rows.push([
      "local archiver (store) -> sha256",
      `${(ourBytes / MB).toFixed(0)} MB`,
      ourRate.toFixed(1),
      (ourRate / zipRate).toFixed(2),
    ]);
  } finally {
    await redis.quit();
    s3.destroy();
    await infra.stop();
  }
  console.log(
    `${COUNT} outputs x ${SIZE / MB} MB, ${CONCURRENCY} at a time; S3 = ${infra.s3 ? "s3rver (embedded)" : "external"}`,
  );
  const header: [string, string, string, string] = ["what", "bytes", "MB/s", "vs baseline"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}
