import fs from "node:fs";
import { createRedis, createS3, ensureBucket, Ledger, PackageStore } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { makeLargeBatch, requestPackage, spawnPackager, waitForPackage } from "./package-fixtures.ts";

const MB = 1024 * 1024;
/**
 * Peak RSS growth allowed while packaging, whatever the package's size, for a packager
 * building one part at a time. Most of it is the part's upload queue (lib-storage, 2 x 8
 * MiB, and the chunks joined into them until they are collected) and stream buffers; each further parallel part (PACKAGE_PART_CONCURRENCY) adds
 * about the same again. With two parts at once the growth measured 42-64 MB, too close
 * to this bound to assert reliably.
 */
const RSS_GROWTH_BOUND = 64 * MB;
const OUTPUT_SIZE = 20 * MB;
/** Ten times the bound. */
const OUTPUTS = (10 * RSS_GROWTH_BOUND) / OUTPUT_SIZE;

/** VmRSS / VmHWM (peak) of a Linux process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

describe("packager memory", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => infra?.stop());

  it("keeps peak RSS growth under its bound while packaging ten times that many bytes", async () => {
    const s3 = createS3(infra.config);
    const bucket = infra.config.S3_BUCKET;
    await ensureBucket(s3, bucket);
    const redis = createRedis(infra.config);
    const store = new PackageStore(redis);
    const ledger = new Ledger(redis);
    const batch = await makeLargeBatch(
      { ledger, s3, bucket, tenant: "t-mem" },
      Array.from({ length: OUTPUTS }, (_, i) => ({ name: `clip-${i}`, size: OUTPUT_SIZE })),
    );
    const warmUp = await makeLargeBatch({ ledger, s3, bucket, tenant: "t-mem" }, [
      { name: "w-0", size: OUTPUT_SIZE },
      { name: "w-1", size: OUTPUT_SIZE },
    ]);
    const ask = (b: typeof batch) =>
      requestPackage(
        { store, config: infra.config, tenant: "t-mem" },
        { batchId: b.batchId, items: b.items.map((i) => ({ ...i, data: Buffer.from(i.sha256) })) },
        100 * MB,
      );
    const { child, started } = spawnPackager({ ...infra.env, PACKAGE_PART_CONCURRENCY: "1" });
    try {
      await started;
      const pid = child.pid as number;
      // A small package first loads every code path (SDK, archiver, BullMQ) and sizes the
      // heap; then the peak is reset (clear_refs 5), so what follows is the package's cost.
      expect((await waitForPackage(store, (await ask(warmUp)).id, 60_000)).state).toBe("ready");
      const warm = memoryOf(pid);
      fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
      const idle = memoryOf(pid);
      expect(idle.peak - idle.rss).toBeLessThan(4 * MB); // the reset took
      const requested = await ask(batch);
      const record = await waitForPackage(store, requested.id, 120_000);
      expect(record.error).toBeUndefined();
      expect(record.state).toBe("ready");
      const end = memoryOf(child.pid as number);
      const growth = end.peak - idle.rss;
      const total = record.parts.reduce((s, p) => s + p.size, 0);
      console.log(
        `packager RSS: after warm-up ${(warm.rss / MB).toFixed(0)} MB (peak ${(warm.peak / MB).toFixed(0)} MB), reset to ${(idle.rss / MB).toFixed(0)} MB, peak ${(end.peak / MB).toFixed(0)} MB, ` +
          `growth ${(growth / MB).toFixed(0)} MB while packaging ${(total / MB).toFixed(0)} MB in ${record.parts.length} parts`,
      );
      expect(total).toBeGreaterThan(10 * RSS_GROWTH_BOUND);
      expect(growth).toBeLessThan(RSS_GROWTH_BOUND);
    } finally {
      child.kill("SIGKILL");
      await redis.quit();
      s3.destroy();
    }
  });
});
