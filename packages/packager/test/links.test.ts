import type { S3Client } from "@aws-sdk/client-s3";
import { createLogger, Ledger, MAX_PRESIGN_SECONDS, type PackageStore, presignGet } from "@mediaq/shared";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestInfra } from "../../../test/harness/infra.ts";
import { installPackageLifecycle, type Packager, packageLifecycleRule, startPackager } from "../src/index.ts";
import {
  download,
  makeBatch,
  requestPackage,
  waitForPackage,
  type PackagerInfra,
  startPackagerInfra,
} from "./package-fixtures.ts";

const TENANT = "t-links";

describe("package links", () => {
  let env: PackagerInfra;
  let infra: TestInfra;
  let redis: Redis;
  let s3: S3Client;
  let store: PackageStore;
  let packager: Packager;
  let bucket: string;

  beforeAll(async () => {
    env = await startPackagerInfra();
    ({ infra, bucket, s3, redis, store } = env);
    packager = startPackager(infra.config, { settings: { PACKAGE_SWEEP_INTERVAL_SECONDS: 3600 } });
  });
  afterAll(async () => {
    await packager?.close();
    await env?.stop();
  });

  it("serves Range requests and names the download after the part", async () => {
    const batch = await makeBatch({ ledger: new Ledger(redis), s3, bucket, tenant: TENANT }, [
      { name: "a", size: 3000 },
      { name: "b", size: 5000 },
    ]);
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 1024 * 1024);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    const part = record.parts[0];
    if (!part) throw new Error("no part");
    const whole = await download(s3, bucket, part.key, part.name);

    const url = await presignGet(s3, bucket, part.key, 600, part.name);
    const ranged = await fetch(url, { headers: { Range: "bytes=10-19" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 10-19/${part.size}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(whole.subarray(10, 20))).toBe(true);

    const full = await fetch(url, { method: "GET" });
    expect(full.status).toBe(200);
    expect(full.headers.get("content-disposition")).toBe(
      `attachment; filename="${part.name}"; filename*=UTF-8''${encodeURIComponent(part.name)}`,
    );
    await full.arrayBuffer();
  });

  it("caps link expiry at 7 days", async () => {
    const url = new URL(await presignGet(s3, bucket, "packages/x/y.zip", MAX_PRESIGN_SECONDS, "y.zip"));
    expect(url.searchParams.get("X-Amz-Expires")).toBe(String(7 * 24 * 3600));
    // One second more is refused by the presigner itself (SigV4 allows at most a week).
    await expect(presignGet(s3, bucket, "packages/x/y.zip", MAX_PRESIGN_SECONDS + 1, "y.zip")).rejects.toThrow(
      /one week|604800/i,
    );
  });

  it("asks the bucket to expire packages/ after 8 days and goes on when it cannot", async () => {
    expect(packageLifecycleRule()).toEqual({
      ID: "mediaq-packages-expiry",
      Status: "Enabled",
      Filter: { Prefix: "packages/" },
      Expiration: { Days: 8 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
    const lines: string[] = [];
    const logger = createLogger("test", { LOG_LEVEL: "info", LOG_PRETTY: false });
    logger.info = ((obj: unknown, msg?: string) => {
      lines.push(msg ?? String(obj));
    }) as typeof logger.info;
    // s3rver implements no lifecycle API: the packager says so once and carries on.
    expect(await installPackageLifecycle(s3, bucket, logger)).toBe("unsupported");
    expect(lines).toEqual([expect.stringMatching(/no lifecycle API; expired packages are deleted by the sweeper/)]);
  });
});
