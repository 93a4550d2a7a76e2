import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { freePort, spawnManaged, waitForPort } from "@mediaq/cli/embedded";
import {
  type BatchRecord,
  createRedis,
  Ledger,
  newWebhookEndpoint,
  redisKeys,
  WEBHOOK_EVENTS,
  type WebhookPayload,
} from "@mediaq/shared";
import { describe, expect, it } from "vitest";
import { startInfra } from "./infra.ts";
import { startReceiver } from "./webhook-receiver.ts";
import { stubResult } from "./stub-result.ts";

const NOTIFIER_MAIN = path.resolve(import.meta.dirname, "../../packages/notifier/src/main.ts");

export interface SoakOptions {
  /** Batches the tenant's endpoint hears. */
  batches: number;
  /** Of them, batches whose progress floods their event stream (two items each, and an own endpoint that answers 500). */
  active: number;
  /** Progress events written, spread over the active batches, while the notifier is down. */
  progressEvents: number;
  /** How long the notifier gets to deliver everything. */
  deliverWithinMs: number;
  /**
   * The notifier's V8 old space is capped at this (--max-old-space-size): a notifier whose
   * live memory grew with the watched batches or the backlog would run out and die.
   */
  notifierHeapMiB: number;
}

export interface SoakFigures {
  expected: number;
  delivered: number;
  duplicates: number;
  deadExpected: number;
  dead: number;
  missing: string[];
  seedMs: number;
  deliverMs: number;
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  /** State events the active batches' capped streams no longer hold (trimmed by progress). */
  trimmedStateEvents: number;
}

const hex = () => randomBytes(32).toString("hex");

/** In chunks of `size`, `size` at a time. */
async function inChunks<T>(values: T[], size: number, f: (v: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < values.length; i += size) await Promise.all(values.slice(i, i + size).map(f));
}

/**
 * The webhook soak (issue 21): `batches` watched batches seeded through the ledger, every
 * item finished (every tenth batch's item failed) and `progressEvents` progress events
 * written while the notifier is down; then a notifier process starts. Every item and batch
 * event must reach the tenant's endpoint, and every event of the active batches must be
 * dead-lettered at their own endpoints. Returns what was seen; memory is the notifier
 * process's peak RSS (/proc VmHWM) and peak heap used (its own /metrics).
 */
export async function runWebhookSoak(o: SoakOptions): Promise<SoakFigures> {
  const receiver = await startReceiver({ "/down": () => 500 });
  const infra = await startInfra();
  const redis = createRedis(infra.config);
  const ledger = new Ledger(redis);
  let notifier: ReturnType<typeof spawnManaged> | undefined;
  try {
    const seedStart = Date.now();
    await ledger.webhooks.create({ tenant: "acme", url: receiver.url("/ok"), events: [...WEBHOOK_EVENTS] });
    /** Per batch: its job keys, whether its items fail, its own endpoint (active ones). */
    const batches = Array.from({ length: o.batches }, (_, i) => ({
      id: randomUUID(),
      jobKeys: i < o.active ? [hex(), hex()] : [hex()],
      fails: i >= o.active && i % 10 === 0,
      own: undefined as string | undefined,
    }));
    await inChunks(batches, 500, async (b) => {
      const record: BatchRecord = {
        id: b.id,
        tenant: "acme",
        model: "0".repeat(64),
        adapter: "wav2lip",
        channels: "bgr",
        params: {},
        createdAt: new Date().toISOString(),
      };
      const active = b.jobKeys.length > 1;
      const own = active
        ? newWebhookEndpoint({ tenant: "acme", url: receiver.url("/down"), events: [...WEBHOOK_EVENTS], batchId: b.id })
        : undefined;
      b.own = own?.id;
      const items = b.jobKeys.map((jobKey, i) => ({ name: `item-${i}.mp4`, jobKey, inputs: {}, params: {} }));
      await ledger.batches.create(record, items as never, undefined, own);
    });
    // Every batch's first item finishes; then progress floods the active batches; then their second items finish.
    await inChunks(batches, 500, async (b) => {
      const [first] = b.jobKeys as [string];
      if (b.fails) await ledger.jobs.transition(first, "failed", "bad input: not a video");
      else await ledger.jobs.recordResult(stubResult(first));
    });
    const active = batches.slice(0, o.active);
    const perBatch = Math.ceil(o.progressEvents / Math.max(1, o.active));
    for (const b of active) {
      const jobKey = b.jobKeys[1] as string;
      const events = Array.from({ length: perBatch }, (_, i) => i);
      await inChunks(events, 1000, (i) =>
        ledger.events.publish([b.id], { type: "progress", jobKey, stage: "infer", done: i, total: perBatch }),
      );
      await ledger.jobs.recordResult(stubResult(jobKey));
    }
    let trimmedStateEvents = 0;
    for (const b of active) {
      const kept = await redis.xrange(redisKeys.batchEvents(b.id), "-", "+", "COUNT", 1);
      const oldestKept = kept[0]?.[0] ?? "0";
      const state = await redis.xrange(redisKeys.batchStateEvents(b.id), "-", `(${oldestKept}`);
      trimmedStateEvents += state.length;
    }
    const seedMs = Date.now() - seedStart;

    const expected = new Set<string>();
    for (const b of batches) {
      b.jobKeys.forEach((jobKey, i) => {
        expected.add(`${b.id} ${b.fails && i === 0 ? "item.failed" : "item.succeeded"} ${jobKey}`);
      });
      expected.add(`${b.id} batch.completed`);
      if (b.fails) expected.add(`${b.id} batch.failed_items`);
    }
    const deadExpected = active.length * 3;

    const metricsPort = await freePort();
    const deliverStart = Date.now();
    notifier = spawnManaged(process.execPath, [NOTIFIER_MAIN], {
      env: {
        ...process.env,
        ...infra.env,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${o.notifierHeapMiB}`.trim(),
        WEBHOOK_ALLOW_HTTP: "true",
        WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: "true",
        WEBHOOK_ATTEMPTS: "2",
        WEBHOOK_BACKOFF_MS: "20",
        WEBHOOK_CONCURRENCY: "32",
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: "127.0.0.1",
      },
    });
    let logs = "";
    notifier.child.stderr?.on("data", (d: Buffer) => {
      logs = (logs + d.toString()).slice(-20_000);
    });
    notifier.child.stdout?.on("data", (d: Buffer) => {
      logs = (logs + d.toString()).slice(-20_000);
    });
    await waitForPort(metricsPort, notifier.child, "notifier metrics");
    const pid = notifier.child.pid as number;
    let peakHeapUsedBytes = 0;
    const sampleHeap = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const m = /^nodejs_heap_size_used_bytes\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
      if (m) peakHeapUsedBytes = Math.max(peakHeapUsedBytes, Number(m[1]));
    };

    const seen = new Map<string, number>();
    let scanned = 0;
    const scan = () => {
      const all = receiver.received;
      for (; scanned < all.length; scanned++) {
        const r = all[scanned];
        if (r?.path !== "/ok") continue;
        const p = JSON.parse(r.body) as WebhookPayload;
        const jobKey = "jobKey" in p.data ? ` ${p.data.jobKey}` : "";
        const id = `${p.data.batchId} ${p.type}${jobKey}`;
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
    };
    const deadCount = async () => {
      let n = 0;
      for (const b of active) n += (await ledger.webhooks.deliveries(b.own as string, "dead")).length;
      return n;
    };
    const deadline = Date.now() + o.deliverWithinMs;
    let dead = 0;
    let lastHeap = 0;
    for (;;) {
      scan();
      dead = await deadCount();
      if (Date.now() - lastHeap > 1000) {
        lastHeap = Date.now();
        await sampleHeap();
      }
      if ((seen.size >= expected.size && dead >= deadExpected) || Date.now() > deadline) break;
      if (notifier.child.exitCode !== null) throw new Error(`the notifier exited: ${logs}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const deliverMs = Date.now() - deliverStart;
    // A moment longer: anything sent twice would show now.
    await new Promise((r) => setTimeout(r, 500));
    scan();
    await sampleHeap();
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const peakRssBytes = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
    const missing = [...expected].filter((e) => !seen.has(e));
    const unexpected = [...seen.keys()].filter((k) => !expected.has(k));
    if (unexpected.length > 0) throw new Error(`unexpected deliveries: ${unexpected.slice(0, 5).join(", ")}`);
    return {
      expected: expected.size,
      delivered: [...seen.keys()].length,
      duplicates: [...seen.values()].reduce((a, n) => a + n - 1, 0),
      deadExpected,
      dead,
      missing: missing.slice(0, 20),
      seedMs,
      deliverMs,
      peakRssBytes,
      peakHeapUsedBytes,
      trimmedStateEvents,
    };
  } finally {
    await notifier?.stop();
    await redis.quit();
    await receiver.close();
    await infra.stop();
  }
}

const MiB = 1024 ** 2;

/**
 * The soak as a test, one body for both sizes (webhook-soak.test.ts in `pnpm test`,
 * webhook-soak.slow.ts at full size): every item and batch event is delivered or
 * dead-lettered, none missing, with the notifier's memory bounded.
 */
export function describeWebhookSoak(name: string, o: SoakOptions): void {
  const n = (v: number) => v.toLocaleString("en-US");
  describe(name, () => {
    it(`${n(o.batches)} watched batches, ${n(o.progressEvents)} progress events while the notifier is down: nothing missing`, async () => {
      const figures = await runWebhookSoak(o);
      console.log(name, {
        ...figures,
        peakRssMiB: figures.peakRssBytes / MiB,
        peakHeapMiB: figures.peakHeapUsedBytes / MiB,
      });
      // Progress did trim item events out of the capped streams: the notifier read them elsewhere.
      expect(figures.trimmedStateEvents).toBeGreaterThan(0);
      expect(figures.missing).toEqual([]);
      expect(figures.delivered).toBe(figures.expected);
      expect(figures.dead).toBe(figures.deadExpected);
      expect(figures.peakRssBytes).toBeLessThan(300 * MiB);
    });
  });
}
