import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POSTER_FILE } from "@mediaq/shared";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { jobsRoot, startWorker } from "../src/index.ts";
import { LOCK_FILE } from "../src/scratch.ts";
import { sweepScratch } from "../src/sweeper.ts";
import { sleep, startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(here, "..", "src", "main.ts");

const metricValue = (text: string, name: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("scratch sweeper (rules, on a real directory)", () => {
  it("removes only old directories whose owner is dead; a live owner's data is never touched", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-sweep-"));
    const jobs = jobsRoot(root);
    const deadPid = spawnSync("true").pid as number; // exited: its pid is free
    const old = new Date(Date.now() - 3_600_000);
    const make = (name: string, lock: object | undefined, mtime?: Date) => {
      const dir = path.join(jobs, name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "video"), Buffer.alloc(1000));
      if (lock) fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(lock));
      if (mtime) fs.utimesSync(dir, mtime, mtime);
    };
    const host = os.hostname();
    make("live-old", { pid: process.pid, host, jobKey: "a" }, old);
    make("dead-old", { pid: deadPid, host, jobKey: "b" }, old);
    make("dead-fresh", { pid: deadPid, host, jobKey: "c" });
    make("other-host-old", { pid: process.pid, host: "elsewhere", jobKey: "d" }, old);
    make("other-host-fresh", { pid: 1, host: "elsewhere", jobKey: "e" });
    make("no-lock-old", undefined, old);
    const result = await sweepScratch(root, 60);
    expect(fs.readdirSync(jobs).sort()).toEqual(["dead-fresh", "live-old", "other-host-fresh"]);
    expect(result.removed.map((d) => path.basename(d)).sort()).toEqual(["dead-old", "no-lock-old", "other-host-old"]);
    expect(result.freedBytes).toBeGreaterThanOrEqual(3000);
    expect(result.failures).toBe(0);
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe("worker scratch, disk guard and crash recovery", () => {
  let h: WorkerHarness;
  let model: string;
  let video: string;
  let audio: string;
  let tinyVideo: string;
  let longVideo: string;

  beforeAll(async () => {
    h = await startWorkerHarness();
    const f = (n: string) => path.join(h.infra.dir, n);
    await makeVideo(f("v.mp4"), { seconds: 1 });
    await makeVideo(f("tiny.mp4"), { seconds: 0.12, width: 64, height: 48 });
    await makeVideo(f("long.mp4"), { seconds: 6, frequency: 550 });
    await makeAudio(f("a.wav"), { seconds: 1 });
    [video, tinyVideo, longVideo, audio, model] = (await Promise.all(
      ["v.mp4", "tiny.mp4", "long.mp4", "a.wav"].map((n) => h.putFile(f(n))).concat(h.putFile(DEMO_MODEL_PATH)),
    )) as [string, string, string, string, string];
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  it("AUTO_CLEAR_CACHE=false keeps the job's scratch directory, and the sweeper leaves it", async () => {
    const worker = await startWorker(h.config({ AUTO_CLEAR_CACHE: false, CACHE_TTL_SECONDS: 0 }));
    try {
      const { batchId, items } = await h.submit(model, [{ name: "keep", video, audio }]);
      expect(await h.waitDone(batchId)).toMatchObject({ succeeded: 1 });
      const kept = h.scratchEntries().filter((d) => d.startsWith(items[0]?.jobKey as string));
      expect(kept).toHaveLength(1);
      const dir = path.join(jobsRoot(h.infra.config.CACHE_ROOT), kept[0] as string);
      expect(fs.readdirSync(dir).sort()).toEqual(["audio", "output.mp4", POSTER_FILE, LOCK_FILE, "video"].sort());
      await worker.sweep();
      expect(fs.existsSync(dir)).toBe(true);
    } finally {
      await worker.close();
    }
    fs.rmSync(jobsRoot(h.infra.config.CACHE_ROOT), { recursive: true, force: true });
  });

  it("with less free disk than MIN_FREE_DISK_BYTES jobs stay waiting; lowering it lets them run", async () => {
    const worker = await startWorker(h.config({ MIN_FREE_DISK_BYTES: 2 ** 60 }), { diskCheckMs: 100 });
    try {
      const before = await h.runs();
      const { batchId, items } = await h.submit(model, [
        { name: "d1", video, audio, params: { pads: [0, 3, 0, 0] } },
        { name: "d2", video, audio, params: { pads: [0, 5, 0, 0] } },
      ]);
      await sleep(1500);
      expect(await h.ledger.batches.counts(batchId)).toMatchObject({ pending: 2, running: 0, failed: 0 });
      for (const i of items) expect(await (await h.queue.getJob(i.jobKey))?.getState()).toBe("waiting");
      expect(worker.diskGuard.isPaused).toBe(true);
      expect(metricValue(await worker.metrics.registry.metrics(), "mediaq_worker_disk_paused")).toBe(1);

      worker.diskGuard.minFreeBytes = 0; // the settings hook: space "returned"
      expect(await h.waitDone(batchId)).toMatchObject({ succeeded: 2 });
      expect(await h.runs()).toBe(before + 2);
      expect(worker.diskGuard.isPaused).toBe(false);
    } finally {
      await worker.close();
    }
  });

  it("a SIGKILLed worker's scratch directory is swept by the next worker; the job then completes", async () => {
    const env = {
      ...process.env,
      ...h.infra.env,
      LOG_LEVEL: "warn",
      CACHE_TTL_SECONDS: "1",
      CACHE_SWEEP_INTERVAL_SECONDS: "1",
      WORKER_LOCK_DURATION_MS: "2000",
      WORKER_STALLED_INTERVAL_MS: "500",
    };
    const startChild = () =>
      // node itself is the worker, so SIGKILL hits it, not a wrapper
      spawn(process.execPath, [MAIN], { env, stdio: ["ignore", "ignore", "inherit"] });
    let child: ChildProcess = startChild();
    try {
      const { batchId, items } = await h.submit(model, [
        { name: "long", video: longVideo, audio, params: { length: "video" } }, // the whole 6 s clip
      ]);
      const jobKey = items[0]?.jobKey as string;
      await until("the job to be running", async () => (await h.ledger.jobs.state(jobKey)).state === "running");
      await until("its scratch directory", () => h.scratchEntries().some((d) => d.startsWith(jobKey)));
      const [orphan] = h.scratchEntries();
      const lock = JSON.parse(
        fs.readFileSync(path.join(jobsRoot(h.infra.config.CACHE_ROOT), orphan as string, LOCK_FILE), "utf8"),
      );
      expect(lock.pid).toBe(child.pid); // the process we kill is the owner
      await until("inputs downloaded", () => h.scratchBytes() > 100_000);
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
      expect(h.scratchEntries()).toEqual([orphan]); // nobody cleaned up after a SIGKILL

      child = startChild();
      await until("the orphan to be swept", () => !h.scratchEntries().includes(orphan as string), 30_000);
      expect(await h.waitDone(batchId, 90_000)).toMatchObject({ succeeded: 1 });
      await until("scratch to be empty", () => h.scratchBytes() === 0);
    } finally {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  }, 150_000);

  it("after many jobs (some failing) scratch holds 0 bytes and the metrics add up", async () => {
    const worker = await startWorker(h.config(), { prefetch: true });
    try {
      const empty = await h.putBlob(Buffer.alloc(0));
      const n = 30;
      const items = Array.from({ length: n }, (_, i) => ({
        name: `m${i}`,
        // every 5th item is bad: an empty video, or a face box outside the frame
        video: i % 10 === 4 ? empty : tinyVideo,
        audio,
        // distinct job keys; length=video keeps each job to the tiny clip's 3 frames
        params: { pads: [0, i, 0, 0], box: i % 10 === 9 ? [60, 40, 30, 30] : [0, 0, 16, 16], length: "video" },
      }));
      const runsBefore = await h.runs(); // the tests before ran jobs on the same servers
      const { batchId, items: submitted } = await h.submit(model, items);
      expect(await h.waitDone(batchId, 120_000)).toEqual({ pending: 0, running: 0, succeeded: 24, failed: 6 });
      // Bad input fails on its first attempt (no retries, no backoff) and good items run once.
      for (const [i, item] of submitted.entries()) {
        if (i % 5 === 4) expect((await h.finishedJob(item.jobKey)).attemptsMade, item.name).toBe(1);
      }
      expect((await h.runs()) - runsBefore).toBe(24);
      // The last item's directory goes right after its state is recorded.
      await until("scratch to be empty", () => h.scratchEntries().length === 0, 5000);
      expect(h.scratchBytes()).toBe(0);
      // A job is counted after its state is recorded and its scratch is gone (a success once
      // withScratch has swept and measured): the last count may come a moment later.
      const counted = async () => {
        const text = await worker.metrics.registry.metrics();
        const outcome = (o: string) => metricValue(text, `mediaq_jobs_total{outcome="${o}"`);
        return outcome("succeeded") + outcome("failed") >= n;
      };
      await until("every job to be counted", counted, 5000);
      const text = await worker.metrics.registry.metrics();
      expect(metricValue(text, "mediaq_scratch_bytes")).toBe(0);
      expect(metricValue(text, 'mediaq_jobs_total{outcome="succeeded"')).toBe(24);
      expect(metricValue(text, 'mediaq_jobs_total{outcome="failed"')).toBe(6);
      expect(metricValue(text, "mediaq_scratch_freed_bytes_total")).toBeGreaterThan(0);
      expect(metricValue(text, "mediaq_scratch_cleanup_failures_total")).toBe(0);
      expect(metricValue(text, "mediaq_bytes_uploaded_total")).toBeGreaterThan(0);
      expect(text).toMatch(/mediaq_stage_duration_seconds_count\{[^}]*stage="infer"[^}]*\} 24/);
      expect(text).toMatch(/mediaq_inference_seconds_count\{[^}]*\} 24/);
    } finally {
      await worker.close();
    }
  }, 150_000);
});
