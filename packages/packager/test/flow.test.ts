import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  createLogger,
  createPackageQueue,
  createRedis,
  type Ledger,
  objectKeys,
  type PackageStore,
  putStream,
  packageJobId,
  QUEUES,
  sha256Hex,
} from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestInfra } from "../../../test/harness/infra.ts";
import { type Manifest, type Packager, startPackager } from "../src/index.ts";
import {
  download,
  makeBatch,
  requestAgain,
  requestPackage,
  run,
  spawnPackager,
  waitForPackage,
  startPackagerInfra,
  type PackagerInfra,
} from "./package-fixtures.ts";

const TENANT = "t-flow";
const KB = 1024;
const MB = 1024 * 1024;

describe("packager flow: parts as child jobs", () => {
  let env: PackagerInfra;
  let infra: TestInfra;
  let s3: S3Client;
  let ledger: Ledger;
  let store: PackageStore;
  let bucket: string;
  let tmp: string;
  const packagers: Packager[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    env = await startPackagerInfra();
    ({ infra, bucket, s3, ledger, store } = env);
    tmp = fs.mkdtempSync(path.join(infra.dir, "flow-"));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await Promise.all(packagers.map((p) => p.close()));
    await env?.stop();
  });

  const deps = () => ({ ledger, s3, bucket, tenant: TENANT });
  const silent = createLogger("test", { LOG_LEVEL: "silent", LOG_PRETTY: false });
  const counts = async (id: string) => {
    const { builds: raw } = await ledger.packageBuilds.builds(id);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  };
  const verifyParts = async (record: Awaited<ReturnType<typeof waitForPackage>>, dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    for (const part of record.parts) {
      const file = path.join(dir, part.name);
      fs.writeFileSync(file, await download(s3, bucket, part.key, part.name));
      expect(sha256Hex(fs.readFileSync(file))).toBe(part.sha256);
      expect(run("unzip", ["-t", file])).toMatch(/No errors detected/);
    }
  };

  it("builds parts in parallel across processes; a SIGKILLed packager loses only the part it was building", async () => {
    const batch = await makeBatch(
      deps(),
      Array.from({ length: 4 }, (_, i) => ({ name: `big-${i}`, size: 48 * MB })),
    );
    const env = { ...infra.env, PACKAGE_PART_CONCURRENCY: "1", PACKAGE_LOCK_SECONDS: "2" };
    const a = spawnPackager(env);
    children.push(a.child);
    await a.started;
    const killedPid = a.child.pid as number;
    packagers.push(
      startPackager(infra.config, {
        logger: silent,
        settings: { PACKAGE_PART_CONCURRENCY: 1, PACKAGE_LOCK_SECONDS: 2, PACKAGE_SWEEP_INTERVAL_SECONDS: 3600 },
      }),
    );
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 50 * MB);
    const id = requested.id;

    // Wait until the child process is building a part that is not finished, then kill it.
    const seen = new Set<string>();
    let killedPart: string | undefined;
    for (const deadline = Date.now() + 60_000; !killedPart && Date.now() < deadline; ) {
      const [{ builders }, done] = await Promise.all([
        ledger.packageBuilds.builds(id),
        ledger.packageBuilds.builtParts(id),
      ]);
      for (const by of Object.values(builders)) seen.add(by.split(":")[1] as string);
      // Kill once both processes have built, while the child holds an unfinished part.
      if (seen.size === 2)
        killedPart = Object.entries(builders).find(
          ([part, by]) => by.endsWith(`:${killedPid}`) && !done.has(part),
        )?.[0];
      if (killedPart) a.child.kill("SIGKILL");
      else await new Promise((r) => setTimeout(r, 5));
    }
    expect(killedPart).toBeDefined();
    // Both processes were building parts of the same package at the same time.
    expect(seen).toEqual(new Set([String(killedPid), String(process.pid)]));

    const record = await waitForPackage(store, id, 90_000);
    expect(record.error).toBeUndefined();
    expect(record.state).toBe("ready");
    expect(record.parts).toHaveLength(4);
    // Only the killed part was built twice; every other part once.
    const builds = await counts(id);
    for (const part of record.parts) expect(builds[part.name]).toBe(part.name === killedPart ? 2 : 1);
    expect(record.bytesWritten).toBe(record.totalBytes);
    await verifyParts(record, path.join(tmp, "killed"));
  });

  it("asked again after a part failed for good, rebuilds only the missing part", async () => {
    packagers.length || packagers.push(startPackager(infra.config, { logger: silent }));
    const batch = await makeBatch(deps(), [
      { name: "one", size: 300 * KB },
      { name: "two", size: 300 * KB },
      { name: "three", size: 300 * KB },
    ]);
    const second = batch.items[1];
    const key = objectKeys.output(second?.jobKey as string, "output.mp4");
    await putStream(s3, { bucket, key, body: Buffer.alloc(300 * KB, 7) }); // not what the ledger recorded
    const requested = await requestPackage({ store, config: infra.config, tenant: TENANT }, batch, 400 * KB);
    const failed = await waitForPackage(store, requested.id);
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/part-002-of-003\.zip: .*"two\.mp4" does not match its result record/);

    // The other two parts finished anyway and are kept.
    await expect
      .poll(async () => [...(await ledger.packageBuilds.builtParts(requested.id)).keys()].sort(), {
        timeout: 10_000,
      })
      .toEqual([expect.stringMatching(/part-001/), expect.stringMatching(/part-003/)]);

    await putStream(s3, { bucket, key, body: second?.data as Buffer }); // repaired
    await requestAgain({ store, config: infra.config }, requested.id);
    const record = await waitForPackage(store, requested.id);
    expect(record.error).toBeUndefined();
    expect(record.state).toBe("ready");
    expect(Object.values(await counts(requested.id)).sort()).toEqual([1, 1, 2]);
    expect(record.parts.map((p) => p.items)).toEqual([[0], [1], [2]]);
    await verifyParts(record, path.join(tmp, "retried"));
  });

  it("packs exactly the record's items when it names them", async () => {
    packagers.length || packagers.push(startPackager(infra.config, { logger: silent }));
    const batch = await makeBatch(deps(), [
      { name: "kept-a", size: 5 * KB },
      { name: "later", size: 6 * KB },
      { name: "kept-b", size: 7 * KB },
    ]);
    const requested = await requestPackage(
      { store, config: infra.config, tenant: TENANT },
      batch,
      64 * MB,
      3600_000,
      [0, 2],
    );
    const record = await waitForPackage(store, requested.id);
    expect(record.state).toBe("ready");
    expect(record.parts.flatMap((p) => p.items)).toEqual([0, 2]);
    const file = path.join(tmp, "chosen.zip");
    fs.writeFileSync(file, await download(s3, bucket, record.parts[0]?.key as string, "p"));
    expect(run("unzip", ["-Z1", file]).trim().split("\n")).toEqual(["manifest.json", "kept-a.mp4", "kept-b.mp4"]);
    const manifest = JSON.parse(run("unzip", ["-p", file, "manifest.json"])) as Manifest;
    expect(manifest.items[1]).toMatchObject({ name: "later", status: "succeeded", notInPackage: true });
    expect(manifest.items[1]?.part).toBeUndefined();
  });

  it("fails clearly when an item the package was computed from has no result any more", async () => {
    packagers.length || packagers.push(startPackager(infra.config, { logger: silent }));
    const batch = await makeBatch(deps(), [
      { name: "fine", size: 5 * KB },
      { name: "broken", size: null },
    ]);
    // A record as the API wrote it while "broken" still had a result that has since gone.
    const id = `gone-${batch.batchId}`;
    const now = Date.now();
    const { buildId } = await store.request({
      id,
      tenant: TENANT,
      batchId: batch.batchId,
      partSize: 64 * MB,
      itemIndexes: [0, 1],
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 60_000).toISOString(),
      state: "queued",
      parts: [],
    });
    const connection = createRedis(infra.config);
    const queue = createPackageQueue(connection, infra.config);
    await queue.add(QUEUES.package, { packageId: id }, { jobId: packageJobId(id, buildId) });
    await queue.close();
    await connection.quit();
    const record = await waitForPackage(store, id);
    expect(record.state).toBe("failed");
    expect(record.error).toMatch(/item 1 \("broken"\) was packaged but has no result any more \(state failed\)/);
  });
});
