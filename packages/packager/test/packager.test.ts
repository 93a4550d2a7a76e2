import fs from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  createLogger,
  headObject,
  type Ledger,
  objectKeys,
  type PackageStore,
  putStream,
  redisKeys,
  sha256Hex,
} from "@mediaq/shared";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestInfra } from "../../../test/harness/infra.ts";
import { type Manifest, type Packager, startPackager, sweepExpiredPackages } from "../src/index.ts";
import {
  download,
  listFiles,
  makeBatch,
  requestPackage,
  run,
  waitForPackage,
  type PackagerInfra,
  startPackagerInfra,
} from "./package-fixtures.ts";

const TENANT = "t1";
const KB = 1024;
const MB = 1024 * 1024;

describe("packager", () => {
  let env: PackagerInfra;
  let infra: TestInfra;
  let redis: Redis;
  let s3: S3Client;
  let ledger: Ledger;
  let store: PackageStore;
  let packager: Packager;
  let bucket: string;
  let tmp: string;

  beforeAll(async () => {
    env = await startPackagerInfra();
    ({ infra, bucket, s3, redis, ledger, store } = env);
    packager = startPackager(infra.config, { settings: { PACKAGE_SWEEP_INTERVAL_SECONDS: 3600 } });
    tmp = fs.mkdtempSync(path.join(infra.dir, "pkg-"));
  });
  afterAll(async () => {
    await packager?.close();
    await env?.stop();
  });

  const deps = () => ({ ledger, s3, bucket, tenant: TENANT });

  it("builds standalone ZIP parts within partSize that extract to the outputs byte for byte", async () => {
    const sizes = [3 * KB, 900 * KB, null, 2800 * KB, 40 * KB, 1500 * KB, 7 * KB, 2 * MB, 300 * KB];
    const batch = await makeBatch(
      deps(),
      sizes.map((size, i) => ({ name: `clip-${i}`, size })),
    );
    const partSize = 4 * MB;
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, partSize);
    const record = await waitForPackage(store, requested.id);
    expect(record.error).toBeUndefined();
    expect(record.state).toBe("ready");
    expect(record.parts.length).toBeGreaterThan(1);
    expect(record.bytesWritten).toBe(record.totalBytes);

    const dir = path.join(tmp, "main");
    fs.mkdirSync(dir);
    for (const part of record.parts) {
      const bytes = await download(s3, bucket, part.key, part.name);
      expect(bytes.length).toBe(part.size);
      expect(bytes.length).toBeLessThanOrEqual(partSize);
      expect(sha256Hex(bytes)).toBe(part.sha256);
      fs.writeFileSync(path.join(dir, part.name), bytes);
    }
    const sums = (await download(s3, bucket, record.sumsKey as string, "SHA256SUMS")).toString();
    fs.writeFileSync(path.join(dir, "SHA256SUMS"), sums);
    expect(sums).toBe(record.parts.map((p) => `${p.sha256}  ${p.name}\n`).join(""));
    expect(run("sha256sum", ["-c", "SHA256SUMS"], dir)).toMatch(/OK/);

    const manifest = JSON.parse(
      (await download(s3, bucket, record.manifestKey as string, "manifest.json")).toString(),
    ) as Manifest;
    expect(manifest).toMatchObject({ schemaVersion: 1, packageId: record.id, batchId: batch.batchId, partSize });
    expect(manifest.parts.map((p) => [p.name, p.size, p.sha256])).toEqual(
      record.parts.map((p) => [p.name, p.size, p.sha256]),
    );

    // Every item listed in batch order; the failed one with its reason and no file.
    expect(manifest.items.map((i) => i.index)).toEqual(sizes.map((_, i) => i));
    expect(manifest.items[2]).toMatchObject({ name: "clip-2", status: "failed", error: "no face found in the video" });
    expect(manifest.items[2]?.entry).toBeUndefined();
    for (const [i, item] of batch.items.entries()) {
      expect(manifest.items[i]?.jobKey).toBe(item.jobKey);
      if (item.data) expect(manifest.items[i]).toMatchObject({ status: "succeeded", model: batch.model });
    }
    // Item order kept across parts.
    const placed = manifest.parts.flatMap((p) => p.items);
    expect(placed).toEqual(sizes.flatMap((s, i) => (s === null ? [] : [i])));

    const out = path.join(dir, "out");
    for (const part of record.parts) {
      const file = path.join(dir, part.name);
      expect(run("unzip", ["-t", file])).toMatch(/No errors detected/);
      // Each part stands alone: manifest.json first, then its items in order.
      const listing = run("unzip", ["-Z1", file]).trim().split("\n");
      const inside = manifest.items.filter((i) => i.part === part.name).map((i) => i.entry);
      expect(listing).toEqual(["manifest.json", ...inside]);
      // The manifest inside a part is the one outside without part sizes and hashes.
      const innerManifest = JSON.parse(run("unzip", ["-p", file, "manifest.json"])) as Manifest;
      expect(innerManifest.items).toEqual(manifest.items);
      expect(innerManifest.parts).toEqual(manifest.parts.map((p) => ({ name: p.name, items: p.items })));
      run("unzip", ["-o", "-q", file, "-d", out]);
    }
    const extracted = listFiles(out);
    const expected = batch.items.flatMap((item, i) => (item.data ? [manifest.items[i]?.entry as string] : []));
    expect(extracted).toEqual(["manifest.json", ...expected].sort());
    for (const [i, item] of batch.items.entries()) {
      if (!item.data) continue;
      const m = manifest.items[i];
      const bytes = fs.readFileSync(path.join(out, m?.entry as string));
      expect(bytes.equals(item.data)).toBe(true);
      expect(sha256Hex(bytes)).toBe(m?.sha256);
      expect(bytes.length).toBe(m?.size);
    }

    // Progress went to the batch's event stream.
    const events = (await ledger.events.range(batch.batchId, "0")).map((e) => e.event);
    const packageEvents = events.filter((e) => e.type === "package");
    expect(packageEvents.some((e) => e.type === "package" && e.state === "building")).toBe(true);
    expect(packageEvents.at(-1)).toMatchObject({ packageId: record.id, state: "ready", bytes: record.totalBytes });
  });

  it("puts an oversize item alone in its own part", async () => {
    const batch = await makeBatch(deps(), [
      { name: "small-a", size: 10 * KB },
      { name: "huge", size: 1200 * KB },
      { name: "small-b", size: 20 * KB },
    ]);
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 512 * KB);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    expect(record.parts.map((p) => p.items)).toEqual([[0], [1], [2]]);
    expect(record.parts[1]?.size).toBeGreaterThan(512 * KB);
    for (const i of [0, 2]) expect(record.parts[i]?.size).toBeLessThanOrEqual(512 * KB);
    const manifest = JSON.parse((await download(s3, bucket, record.manifestKey as string, "m")).toString()) as Manifest;
    expect(manifest.items.map((i) => i.oversize ?? false)).toEqual([false, true, false]);
    const file = path.join(tmp, "oversize.zip");
    fs.writeFileSync(file, await download(s3, bucket, record.parts[1]?.key as string, "p"));
    expect(run("unzip", ["-t", file])).toMatch(/No errors detected/);
  });

  it("extracts hostile names safely inside the target directory, with unique names", async () => {
    const names = [
      "../../etc/passwd",
      "C:\\x",
      "a/b",
      "😀 smile",
      "same",
      "same",
      "/abs/path.mp4",
      "..",
      "nul\u0000\u0007x",
    ];
    const batch = await makeBatch(
      deps(),
      names.map((name, i) => ({ name, size: 1000 + i })),
    );
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 64 * MB);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    expect(record.parts).toHaveLength(1);
    const part = record.parts[0];
    const file = path.join(tmp, "hostile.zip");
    fs.writeFileSync(file, await download(s3, bucket, part?.key as string, part?.name as string));
    const manifest = JSON.parse(run("unzip", ["-p", file, "manifest.json"])) as Manifest;
    const entries = manifest.items.map((i) => i.entry as string);
    expect(entries).toEqual([
      "etc_passwd.mp4",
      "C__x.mp4",
      "a_b.mp4",
      "😀 smile.mp4",
      "same.mp4",
      "same (2).mp4",
      "abs_path.mp4",
      "item-8.mp4",
      "nulx.mp4",
    ]);
    expect(manifest.items.map((i) => i.name)).toEqual(names);

    // unzip, 7z and bsdtar all keep every file inside the target directory.
    const extractors: [string, (dir: string) => string[]][] = [
      ["unzip", (dir) => ["unzip", "-q", file, "-d", dir]],
      ["7z", (dir) => ["7z", "x", "-y", `-o${dir}`, file]],
      ["bsdtar", (dir) => ["bsdtar", "-xf", file, "-C", dir]],
    ];
    for (const [tool, args] of extractors) {
      const dir = path.join(tmp, `hostile-${tool}`);
      fs.mkdirSync(dir);
      const [cmd, ...rest] = args(dir);
      run(cmd as string, rest);
      expect(listFiles(dir)).toEqual(["manifest.json", ...entries].sort());
      for (const [i, item] of batch.items.entries())
        expect(fs.readFileSync(path.join(dir, entries[i] as string)).equals(item.data as Buffer)).toBe(true);
    }
  });

  it("fails the package with a clear error when an output no longer matches its result", async () => {
    const batch = await makeBatch(deps(), [
      { name: "ok", size: 5 * KB },
      { name: "tampered", size: 6 * KB },
    ]);
    const tampered = batch.items[1];
    await (await import("@mediaq/shared")).putStream(s3, {
      bucket,
      key: objectKeys.output(tampered?.jobKey as string, "output.mp4"),
      body: Buffer.alloc(6 * KB, 1),
    });
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 64 * MB);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("failed");
    expect(record.error).toMatch(/"tampered\.mp4" does not match its result record/);
    const events = (await ledger.events.range(batch.batchId, "0")).map((e) => e.event);
    expect(events.at(-1)).toMatchObject({ type: "package", packageId: record.id, state: "failed" });
  });

  it("sweeps an expired package's objects and forgets it", async () => {
    const batch = await makeBatch(deps(), [{ name: "short-lived", size: 4 * KB }]);
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 64 * MB, 60_000);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    const keys = [...record.parts.map((p) => p.key), record.manifestKey as string, record.sumsKey as string];
    expect(await redis.zscore(redisKeys.packageExpiry, record.id)).toBe(String(Date.parse(record.expiresAt)));

    const sweep = (now: number) =>
      sweepExpiredPackages(
        { ledger, store, s3, bucket, logger: createLogger("test", { LOG_LEVEL: "silent", LOG_PRETTY: false }) },
        now,
      );
    // Not yet expired: nothing happens.
    expect(await sweep(Date.now())).toEqual([]);
    for (const key of keys) expect(await headObject(s3, bucket, key)).toBeDefined();

    // Past its expiry (the record has timed out of Redis too).
    await redis.del(redisKeys.package(record.id));
    expect(await sweep(Date.now() + 120_000)).toEqual([record.id]);
    for (const key of keys) expect(await headObject(s3, bucket, key)).toBeUndefined();
    expect(await redis.zscore(redisKeys.packageExpiry, record.id)).toBeNull();
    // Other packages' objects are untouched.
    expect(objectKeys.packagePrefix(record.id)).toBe(`packages/${record.id}/`);
  });

  it("a package asked for again while its expired objects are swept keeps the new build's objects", async () => {
    const batch = await makeBatch(deps(), [{ name: "asked-again", size: 4 * KB }]);
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 64 * MB, 2_000);
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    const old = [...record.parts.map((p) => p.key), record.manifestKey as string];
    // Past its expiry in real time (S3 dates objects to the second).
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(record.expiresAt) + 1500 - Date.now())));
    const fresh = `${objectKeys.packagePrefix(record.id)}rebuilt-part-001.zip`;
    const later = new Date(Date.now() + 3600_000).toISOString();
    // The sweeper finds no living record; right then the package is asked for again and its
    // new build writes a part under the same prefix, before the sweeper deletes anything.
    const racingStore = {
      get: async (id: string) => {
        const found = await store.get(id);
        await putStream(s3, { bucket, key: fresh, body: Buffer.alloc(1024, 1) });
        await ledger.packageBuilds.rememberExpiry(id, later);
        return found;
      },
    } as unknown as typeof store;
    const silent = createLogger("test", { LOG_LEVEL: "silent", LOG_PRETTY: false });
    expect(await sweepExpiredPackages({ ledger, store: racingStore, s3, bucket, logger: silent })).toEqual([record.id]);
    for (const key of old) expect(await headObject(s3, bucket, key)).toBeUndefined();
    expect(await headObject(s3, bucket, fresh)).toBeDefined();
    expect(await redis.zscore(redisKeys.packageExpiry, record.id)).toBe(String(Date.parse(later)));
  });
});
