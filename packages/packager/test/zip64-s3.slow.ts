import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectsCommand } from "@aws-sdk/client-s3";
import {
  createRedis,
  createS3,
  ensureBucket,
  Ledger,
  OUTPUT_FILE,
  objectKeys,
  PackageStore,
  presignGet,
} from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { type Packager, startPackager } from "../src/index.ts";
import { makeLargeBatch, requestPackage, run, waitForPackage } from "./package-fixtures.ts";

const MB = 1024 * 1024;
const GiB = 1024 ** 3;
/** Outputs in S3 + the part in S3 + the downloaded part, with room to spare. */
const DISK_NEEDED = 15 * 1000 ** 3;

describe("zip64 (slow)", () => {
  let infra: TestInfra;
  let free = 0;
  beforeAll(async () => {
    infra = await startInfra();
    const stats = await fs.promises.statfs(infra.dir);
    free = stats.bavail * stats.bsize;
  });
  afterAll(async () => infra?.stop());

  it("packages an item over 4 GiB (Zip64) through S3 that unzip, 7z, bsdtar and Python's zipfile accept", async () => {
    // This pushes > 16 GB through S3 (write, read, write, download): 3 to 7 minutes on the
    // embedded s3rver, so it is in `pnpm test:slow` (CI runs it after `pnpm test`).
    expect(free, `needs 15 GB free under ${infra.dir}`).toBeGreaterThanOrEqual(DISK_NEEDED);
    const s3 = createS3(infra.config);
    const bucket = infra.config.S3_BUCKET;
    await ensureBucket(s3, bucket);
    const redis = createRedis(infra.config);
    const store = new PackageStore(redis);
    const packager: Packager = startPackager(infra.config, { settings: { PACKAGE_SWEEP_INTERVAL_SECONDS: 3600 } });
    const dir = fs.mkdtempSync(path.join(infra.dir, "zip64-"));
    const keys: string[] = [];
    const t0 = Date.now();
    const phase = (name: string) => console.log(`zip64 ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    try {
      // small, huge (> 4 GiB: Zip64 sizes), small (its header starts past 4 GiB: Zip64 offset)
      const items = [
        { name: "before", size: 3 * MB },
        { name: "huge", size: 4 * GiB + 5 * MB },
        { name: "after", size: 2 * MB + 7 },
      ];
      const batch = await makeLargeBatch({ ledger: new Ledger(redis), s3, bucket, tenant: "t-zip64" }, items);
      keys.push(...batch.items.map((i) => objectKeys.output(i.jobKey, OUTPUT_FILE)));
      phase("outputs written");
      const requested = await requestPackage(
        { store, config: infra.config, tenant: "t-zip64" },
        { batchId: batch.batchId, items: batch.items.map((i) => ({ ...i, data: Buffer.from(i.sha256) })) },
        5 * GiB,
      );
      const record = await waitForPackage(store, requested.id, 240_000);
      expect(record.error).toBeUndefined();
      expect(record.state).toBe("ready");
      expect(record.parts).toHaveLength(1);
      keys.push(...record.parts.map((p) => p.key), record.manifestKey as string, record.sumsKey as string);
      phase("packaged");
      const part = record.parts[0] as (typeof record.parts)[number];
      expect(part.size).toBeGreaterThan(4 * GiB);

      const file = path.join(dir, part.name);
      const res = await fetch(await presignGet(s3, bucket, part.key, 600, part.name));
      expect(res.status).toBe(200);
      await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(file));
      expect(fs.statSync(file).size).toBe(part.size);
      expect(run("sha256sum", [file]).split(" ")[0]).toBe(part.sha256);

      phase("downloaded");
      expect(run("unzip", ["-t", file])).toMatch(/No errors detected/);
      expect(run("7z", ["t", file])).toMatch(/Everything is Ok/);
      const listing = run("bsdtar", ["-tf", file]).trim().split("\n");
      expect(listing).toEqual(["manifest.json", "before.mp4", "huge.mp4", "after.mp4"]);
      run("python3", [
        "-c",
        "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; " +
          "assert [i.file_size for i in z.infolist()[1:]] == [int(a) for a in sys.argv[2:]]",
        file,
        ...items.map((i) => String(i.size)),
      ]);
      phase("checked");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      if (keys.length)
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
      await packager.close();
      await redis.quit();
      s3.destroy();
    }
  }, 600_000);
});
