import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRedis, createS3, ensureBucket, Ledger, PackageStore } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { START_TIMEOUT_MS } from "../../../test/harness/entry.ts";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { makeBatch, requestPackage, waitForPackage } from "./package-fixtures.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("packager main", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => infra?.stop());

  it("builds a queued package as a separate process and exits cleanly on SIGTERM", async () => {
    const s3 = createS3(infra.config);
    await ensureBucket(s3, infra.config.S3_BUCKET);
    const redis = createRedis(infra.config);
    const store = new PackageStore(redis);
    const batch = await makeBatch({ ledger: new Ledger(redis), s3, bucket: infra.config.S3_BUCKET, tenant: "t" }, [
      { name: "a", size: 2048 },
    ]);
    const child = spawn(process.execPath, [path.join(here, "../src/main.ts")], {
      env: { ...process.env, ...infra.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const requested = await requestPackage({ store, config: infra.config, tenant: "t" }, batch, 1024 * 1024);
      const record = await waitForPackage(store, requested.id, START_TIMEOUT_MS);
      expect(record.state).toBe("ready");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await redis.quit();
      s3.destroy();
    }
    expect(stderr).toBe("");
  });

  it("refuses a bad PACKAGE_SWEEP_INTERVAL_SECONDS with a message naming it", async () => {
    const child = spawn(process.execPath, [path.join(here, "../src/main.ts")], {
      env: { ...process.env, ...infra.env, PACKAGE_SWEEP_INTERVAL_SECONDS: "soon" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr.on("data", (c) => {
      output += c;
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).not.toBe(0);
    expect(output).toMatch(/PACKAGE_SWEEP_INTERVAL_SECONDS="soon"/);
  });
});
