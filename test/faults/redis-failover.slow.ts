import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ApiClient,
  demoModelPath,
  demoModelRegistration,
  spawnService,
  waitForBatch,
  waitForPackage,
  type ServiceName,
} from "@mediaq/cli";
import { type EmbeddedS3, freePort, type Managed, startS3 } from "@mediaq/cli/embedded";
import { createRedis, loadConfig, redisKeys, type WebhookPayload } from "@mediaq/shared";
import type { Redis } from "ioredis";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { downloadPackage } from "../../packages/cli/src/download.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";
import { type SentinelCluster, startSentinelCluster } from "../harness/sentinel.ts";
import { startReceiver } from "../harness/webhook-receiver.ts";
import { FAST_STALLS } from "./helpers.ts";

/**
 * Redis failing over under a running batch (docs/architecture.md#redis-failover): one primary,
 * one replica and three Sentinels on loopback; the API, a worker, the packager and the
 * notifier as real processes configured with REDIS_SENTINELS (and a REDIS_URL pointing
 * nowhere, which must neither win nor be refused).
 */

const SHORT = 40;
/** The long item: 6 s of output at SEGMENT_SECONDS=2 is 3 segments, each a model run of its own. */
const LONG_SEGMENTS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface World {
  dir: string;
  cluster: SentinelCluster;
  s3: EmbeddedS3;
  services: Partial<Record<ServiceName, Managed>>;
  logDir: string;
  client: ApiClient;
  /** This test's own connection, through the Sentinels like the services'. */
  redis: Redis;
  receiver: Awaited<ReturnType<typeof startReceiver>>;
  inputs: { video: string; audio: string; longAudio: string };
  stop(): Promise<void>;
}

async function startWorld(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-failover-"));
  const logDir = path.join(dir, "logs");
  fs.mkdirSync(logDir);
  const cluster = await startSentinelCluster(path.join(dir, "redis"));
  const s3 = await startS3({ dataDir: path.join(dir, "s3"), bucket: "mediaq" });
  const receiver = await startReceiver();
  const port = await freePort();
  const env: Record<string, string> = {
    // Nothing listens there: the Sentinels must win.
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    ...cluster.env,
    ...s3.env,
    ...FAST_STALLS,
    CACHE_ROOT: path.join(dir, "cache"),
    API_HOST: "127.0.0.1",
    API_PORT: String(port),
    API_KEYS: "acme:key-acme",
    JOB_ATTEMPTS: "3",
    SEGMENT_SECONDS: "2",
    PACKAGE_LOCK_SECONDS: "4",
    WEBHOOK_ALLOW_HTTP: "true",
    WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: "true",
    WEBHOOK_BACKOFF_MS: "500",
    REDIS_RECOVERY_SECONDS: "20",
    LOG_LEVEL: "info",
  };
  const services: World["services"] = {};
  for (const service of ["api", "worker", "packager", "notifier"] as const)
    services[service] = spawnService(service, env, { logFile: path.join(logDir, `${service}.log`) });
  const client = new ApiClient(`http://127.0.0.1:${port}`, "key-acme");
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || services.api?.child.exitCode !== null)
      throw new Error(`the API did not get ready:\n${fs.readFileSync(path.join(logDir, "api.log"), "utf8")}`);
    await sleep(200);
  }
  const { adapter, channels } = demoModelRegistration();
  await client.putModelFile(demoModelPath(), { tag: "demo", adapter, channels });
  const file = (n: string) => path.join(dir, n);
  await makeVideo(file("v.mp4"), { seconds: 0.5, width: 96, height: 96, frequency: 300 });
  await makeAudio(file("a.wav"), { seconds: 0.5, frequency: 200 });
  await makeAudio(file("long.wav"), { seconds: 6, frequency: 230 });
  const inputs = {
    video: (await client.putBlobFile(file("v.mp4"))).sha256,
    audio: (await client.putBlobFile(file("a.wav"))).sha256,
    longAudio: (await client.putBlobFile(file("long.wav"))).sha256,
  };
  const redis = createRedis(loadConfig(env));
  redis.on("error", () => undefined);
  return {
    dir,
    cluster,
    s3,
    services,
    logDir,
    client,
    redis,
    receiver,
    inputs,
    async stop() {
      await Promise.all(Object.values(services).map((s) => s?.stop(5000)));
      redis.disconnect();
      await receiver.close();
      await Promise.all([cluster.stop(), s3.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** 40 short items (a face box a pixel apart each: distinct job keys) and one long, segmented item. */
const TAG_ROW: Record<string, number> = { early: 1, kill: 2, stop: 3, after: 4 };
function batchItems(w: World, tag: string) {
  const row = TAG_ROW[tag] ?? 0;
  const short = Array.from({ length: SHORT }, (_, i) => ({
    name: `${tag}-${i}.mp4`,
    inputs: { video: w.inputs.video, audio: w.inputs.audio },
    params: { box: [i % 40, row, 48, 48] },
  }));
  const long = {
    name: `${tag}-long.mp4`,
    inputs: { video: w.inputs.video, audio: w.inputs.longAudio },
    params: { box: [40, row, 48, 48] },
  };
  return [...short, long];
}

const counts = async (w: World, batchId: string) => (await w.client.getBatch(batchId).catch(() => undefined))?.counts;

/** Runs per job key (the worker's own count on each job's ledger hash). */
async function runsByKey(redis: Redis, keys: string[]): Promise<Map<string, number>> {
  const pipe = redis.pipeline();
  for (const k of keys) pipe.hget(redisKeys.job(k), "runs");
  const replies = (await pipe.exec()) ?? [];
  return new Map(keys.map((k, i) => [k, Number(replies[i]?.[1] ?? 0)]));
}

async function keysInState(redis: Redis, keys: string[], state: string): Promise<string[]> {
  const pipe = redis.pipeline();
  for (const k of keys) pipe.hget(redisKeys.job(k), "state");
  const replies = (await pipe.exec()) ?? [];
  return keys.filter((_, i) => replies[i]?.[1] === state);
}

/** Each service's warnings and errors (pino levels 40-60) and its last lines, for failure messages. */
function logs(w: World): string {
  return (["api", "worker", "packager", "notifier"] as const)
    .map((s) => {
      const text = fs.readFileSync(path.join(w.logDir, `${s}.log`), "utf8");
      const warnings = text.split("\n").filter((l) => /"level":[456]0/.test(l));
      return `--- ${s}\n${warnings.slice(-25).join("\n")}\n...\n${text.slice(-1500)}`;
    })
    .join("\n");
}

/**
 * A batch of SHORT items with a webhook at /<tag>, run until half of them succeeded: what each
 * fault hits. Returns the batch, its webhook secret, the job keys running then and the primary's port.
 */
async function halfDone(w: World, tag: string) {
  const created = await w.client.createBatch({
    model: "demo",
    items: batchItems(w, tag),
    webhook: { url: w.receiver.url(`/${tag}`) },
  });
  const secret = created.webhook?.secret as string;
  const keys = created.items.map((i) => i.jobKey);
  // About half: 2-5 s per item on 2 cores, longer when the machine is loaded.
  const deadline = Date.now() + 240_000;
  while (((await counts(w, created.id))?.succeeded ?? 0) < (SHORT + 1) / 2) {
    if (Date.now() > deadline) throw new Error(`half the batch did not finish\n${logs(w)}`);
    await sleep(100);
  }
  const runningBefore = await keysInState(w.redis, keys, "running");
  const oldPrimary = (await w.cluster.primaryPort()) as number;
  return { created, secret, runningBefore, oldPrimary };
}

/** What every test checks at the end: all succeeded, webhooks, a complete package, a re-submit runs nothing. */
async function checkNothingLost(
  w: World,
  batch: { id: string; items: { jobKey: string; name: string }[] },
  secret: string,
  tag: string,
  runningBefore: string[],
) {
  const status = await waitForBatch(w.client, batch.id, undefined, { timeoutMs: 240_000 }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${logs(w)}`);
  });
  expect(status.counts).toMatchObject({ succeeded: SHORT + 1, failed: 0, pending: 0, running: 0 });
  expect(status.done).toBe(true);

  // A package built after the failover is complete: every item, each part matching SHA256SUMS.
  const pkg = await waitForPackage(w.client, (await w.client.createPackage(batch.id)).id, undefined, {
    timeoutMs: 60_000,
  });
  const files = await downloadPackage(pkg, path.join(w.dir, `pkg-${tag}`));
  expect(files.length).toBe(pkg.parts.length);
  const manifest = JSON.parse(fs.readFileSync(path.join(w.dir, `pkg-${tag}`, "manifest.json"), "utf8")) as {
    items: { name: string; status?: string }[];
  };
  expect(manifest.items.map((i) => i.name).sort()).toEqual(batch.items.map((i) => i.name).sort());

  // A webhook for every item at the loopback receiver (at least once: duplicates allowed).
  const wh = new Webhook(secret);
  const told = () =>
    new Set(
      w.receiver
        .on(`/${tag}`)
        .map((r) => wh.verify(r.body, r.headers as Record<string, string>) as WebhookPayload)
        .flatMap((p) => (p.type === "item.succeeded" ? p.data.items.map((i) => i.name) : [])),
    );
  const deadline = Date.now() + 60_000;
  while (told().size < batch.items.length && Date.now() < deadline) await sleep(200);
  expect([...told()].sort()).toEqual(batch.items.map((i) => i.name).sort());

  // Re-submitting runs nothing: every item is already succeeded, and no inference runs.
  const keys = batch.items.map((i) => i.jobKey);
  const runsBefore = Number(await w.redis.get(redisKeys.inferenceRuns));
  const again = await w.client.createBatch({ model: "demo", items: batchItems(w, tag) });
  expect(again.items.every((i) => i.state === "succeeded")).toBe(true);
  await sleep(2000);
  expect(Number(await w.redis.get(redisKeys.inferenceRuns))).toBe(runsBefore);

  // Ran twice, and why: a redo is allowed, a loss is not. The long item's runs count its
  // segments' frame-path runs, so it ran twice when it has more than its segments.
  const runs = await runsByKey(w.redis, keys);
  const name = (k: string) => batch.items.find((i) => i.jobKey === k)?.name ?? k;
  const expected = (k: string) => (name(k).endsWith("-long.mp4") ? LONG_SEGMENTS : 1);
  const twice = keys.filter((k) => (runs.get(k) ?? 0) > expected(k));
  console.log(
    `[${tag}] items that ran more than once: ${twice.length} of ${keys.length}` +
      twice
        .map(
          (k) =>
            `\n  ${name(k)}: ${runs.get(k)} model runs (${expected(k)} undisturbed); ${
              runningBefore.includes(k)
                ? "it was running when the primary went away: its lock or finish was lost, so the stalled check ran it again"
                : "it was not running at the fault: its start or result was among the writes the failover lost"
            }`,
        )
        .join(""),
  );
  for (const k of keys) expect(runs.get(k), `${name(k)} did not run in full`).toBeGreaterThanOrEqual(expected(k));
}

describe("Redis Sentinel failover under a running batch", () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld();
  }, 120_000);
  afterEach(async () => {
    await w?.stop();
  });

  it("SIGKILL of the primary at half the batch: nothing lost, every service works again within 30 s", async () => {
    // A small batch done before the fault: the packager's first work after it.
    const early = await w.client.createBatch({ model: "demo", items: batchItems(w, "early").slice(0, 2) });
    await waitForBatch(w.client, early.id, undefined, { timeoutMs: 60_000 });

    const { created, secret, runningBefore, oldPrimary } = await halfDone(w, "kill");
    const succeededAtKill = (await counts(w, created.id))?.succeeded ?? 0;
    await w.cluster.nodes.get(oldPrimary)?.kill();
    const killedAt = Date.now();
    // The API's /readyz says Redis is failing over while its connection has no primary.
    const readyz = () =>
      fetch(`${w.client.baseUrl}/readyz`).then(async (r) => ({ status: r.status, body: await r.text() }));
    let notReady = await readyz();
    while (notReady.status === 200 && Date.now() < killedAt + 5000) {
      await sleep(50);
      notReady = await readyz();
    }
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(/failing over/);
    await w.cluster.waitForPromotion(oldPrimary);
    const promotedAt = Date.now();
    console.log(
      `[kill] primary SIGKILLed at ${succeededAtKill} of ${SHORT + 1} done; promoted after ${promotedAt - killedAt} ms`,
    );

    // The API says so while its connection moves, then answers again.
    // Each service works again within 30 s of the promotion:
    // - the packager: a package of the early batch;
    // (the API answers 503 until its connection has moved: a client tries again)
    const packaged = (async () => {
      for (;;) {
        try {
          const pkg = await w.client.createPackage(early.id);
          const workDeadline = { timeoutMs: Math.max(1000, promotedAt + 30_000 - Date.now()) };
          await waitForPackage(w.client, pkg.id, undefined, workDeadline);
          return Date.now() - promotedAt;
        } catch (err) {
          if ((err as { status?: number }).status !== 503) throw err;
          if (Date.now() > promotedAt + 30_000)
            throw new Error(`the API still answered 503 30 s after the promotion: ${err}\n${logs(w)}`);
          await sleep(250);
        }
      }
    })();
    // - the worker: an item of the batch succeeds after the promotion;
    const worked = (async () => {
      for (;;) {
        const c = await counts(w, created.id);
        if ((c?.succeeded ?? 0) > succeededAtKill) return Date.now() - promotedAt;
        if (Date.now() > promotedAt + 30_000)
          throw new Error(`no item succeeded within 30 s of the promotion\n${logs(w)}`);
        await sleep(100);
      }
    })();
    // - the notifier: a webhook arrives after the promotion.
    const heardBefore = w.receiver.received.length;
    const notified = (async () => {
      for (;;) {
        if (w.receiver.received.length > heardBefore) return Date.now() - promotedAt;
        if (Date.now() > promotedAt + 30_000) throw new Error(`no webhook within 30 s of the promotion\n${logs(w)}`);
        await sleep(100);
      }
    })();
    // - and the API is ready again.
    const readyAgain = (async () => {
      while ((await readyz()).status !== 200) {
        if (Date.now() > promotedAt + 30_000) throw new Error(`/readyz not ready 30 s after the promotion\n${logs(w)}`);
        await sleep(100);
      }
      return Date.now() - promotedAt;
    })();
    const [packagerMs, workerMs, notifierMs, apiMs] = await Promise.all([packaged, worked, notified, readyAgain]);
    console.log(
      `[kill] after the promotion: worker ${workerMs} ms, packager ${packagerMs} ms, notifier ${notifierMs} ms, API ready ${apiMs} ms`,
    );
    for (const ms of [packagerMs, workerMs, notifierMs, apiMs]) expect(ms).toBeLessThan(30_000);

    await checkNothingLost(w, created, secret, "kill", runningBefore);
    for (const s of ["api", "worker", "packager", "notifier"] as const)
      expect(w.services[s]?.child.exitCode, `${s} exited`).toBeNull();
  });

  it("SIGSTOP of the primary past down-after-milliseconds, then SIGCONT: it returns as a replica, nothing lost, no worker stuck", async () => {
    const { created, secret, runningBefore, oldPrimary } = await halfDone(w, "stop");
    const paused = w.cluster.nodes.get(oldPrimary) as Managed;
    paused.child.kill("SIGSTOP");
    try {
      await w.cluster.waitForPromotion(oldPrimary);
      // Longer than down-after-milliseconds by far: the Sentinels have promoted the replica.
      await sleep(3 * w.cluster.downAfterMs);
    } finally {
      paused.child.kill("SIGCONT");
    }
    const resumedAt = Date.now();
    // The old primary comes back as a replica of the new one.
    await w.cluster.waitForReplica(oldPrimary);
    console.log(`[stop] old primary replicating again ${Date.now() - resumedAt} ms after SIGCONT`);

    await checkNothingLost(w, created, secret, "stop", runningBefore);
    // No worker stuck: a new batch after all this runs too.
    const after = await w.client.createBatch({
      model: "demo",
      items: batchItems(w, "after").slice(0, 3),
    });
    const done = await waitForBatch(w.client, after.id, undefined, { timeoutMs: 60_000 });
    expect(done.counts).toMatchObject({ succeeded: 3, failed: 0 });
    for (const s of ["api", "worker", "packager", "notifier"] as const)
      expect(w.services[s]?.child.exitCode, `${s} exited`).toBeNull();
  });
});
