import fs from "node:fs";
import path from "node:path";
import { workerDeathsReason } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { superviseWorkers } from "../../packages/cli/src/supervisor.ts";
import { type FaultStack, startFaultStack, until } from "./helpers.ts";

/**
 * A supervised worker's death (docs/architecture.md#worker-deaths): the supervisor hands the
 * child's job back at once, so its next attempt starts while the dead child's BullMQ lock is
 * still alive, instead of after the lock expires and a stalled check finds it.
 */
describe("failover: a supervised worker's SIGKILL", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    // 60 s of audio: 1500 frames, a job that is still running when it is killed (one job:
    // no segments).
    stack = await startFaultStack({ videos: 1, audios: 1, seconds: 60, env: { SEGMENT_SECONDS: "3600" } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("hands the job back at once: pending again, no attempt spent, run again before the lock expires", async () => {
    const logDir = path.join(stack.infra.dir, "failover-logs");
    fs.mkdirSync(logDir, { recursive: true });
    const events: string[] = [];
    // A lock and stalled check far longer than the test: only the hand-back can bring the job back.
    const lockMs = 120_000;
    const sup = superviseWorkers({
      cards: [0],
      // Time to see the handed-back job waiting before the new child takes it.
      baseDelayMs: 3000,
      env: {
        ...stack.workerEnv,
        WORKER_LOCK_DURATION_MS: String(lockMs),
        WORKER_STALLED_INTERVAL_MS: String(lockMs),
      },
      logDir,
      log: (line) => events.push(line),
    });
    try {
      const { batchId, items } = await stack.submit([{ name: "long.mp4", params: { box: [0, 0, 48, 48] } }]);
      const jobKey = items[0]?.jobKey as string;
      const lockKey = `${stack.queue.toKey(jobKey)}:lock`;

      const first = await until("the job to run", async () => {
        const job = await stack.queue.getJob(jobKey);
        const running = (await stack.keysInState([jobKey], "running")).length === 1;
        return running && job?.processedBy && (await job.getState()) === "active" ? job : undefined;
      });
      const lockLeftMs = await stack.redis.pttl(lockKey);
      expect(lockLeftMs).toBeGreaterThan(0);
      const killedAt = Date.now();
      await sup.children()[0]?.kill();

      // Handed back: waiting in BullMQ, pending in the ledger, while no worker runs.
      await until(
        "the job to be handed back",
        async () =>
          (await stack.queue.getJob(jobKey))?.getState().then((s) => s === "waiting") &&
          (await stack.keysInState([jobKey], "pending")).length === 1,
        10_000,
      );
      // BullMQ's script cleared the dead worker's lock (its token matched).
      expect(await stack.redis.exists(lockKey)).toBe(0);

      const second = await until("the job to run under the restarted worker", async () => {
        const job = await stack.queue.getJob(jobKey);
        return job && (await job.getState()) === "active" && job.processedBy !== first.processedBy ? job : undefined;
      });
      // Before the dead worker's lock would have expired: the stalled check played no part.
      expect(Date.now()).toBeLessThan(killedAt + lockLeftMs);
      expect(second.stalledCounter).toBe(0);
      expect(second.attemptsMade).toBe(0); // no attempt spent
      expect(second.attemptsStarted).toBe(first.attemptsStarted + 1);
      expect(events).toContain(`worker for card 0: handed back inference/${jobKey}`);

      expect(await stack.waitDone(batchId, 120_000)).toMatchObject({ succeeded: 1, failed: 0 });
      // A run is counted when its model section ends; the killed one never got there.
      expect((await stack.runsByKey([jobKey])).get(jobKey)).toBe(1);
      await stack.verifyOutputs(batchId);
    } finally {
      await sup.stop();
    }
  }, 240_000);

  it("still counts deaths: a job whose worker is killed JOB_ATTEMPTS times fails alone with the reason", async () => {
    const logDir = path.join(stack.infra.dir, "poison-logs");
    fs.mkdirSync(logDir, { recursive: true });
    const events: string[] = [];
    const sup = superviseWorkers({
      cards: [0],
      baseDelayMs: 50,
      env: { ...stack.workerEnv, WORKER_LOCK_DURATION_MS: "120000", WORKER_STALLED_INTERVAL_MS: "120000" },
      logDir,
      log: (line) => events.push(line),
    });
    try {
      const { batchId, items } = await stack.submit([
        { name: "poison.mp4", params: { box: [1, 0, 48, 48] } },
        { name: "fine.mp4", params: { box: [2, 0, 48, 48] } },
      ]);
      const [poison, fine] = items.map((i) => i.jobKey) as [string, string];
      const owners = new Set<string>();
      // JOB_ATTEMPTS is 3 in the fault stack: kill whichever child runs the poison item, three times.
      for (let kill = 1; kill <= 3; kill++) {
        const job = await until(`the poison item's run ${kill}`, async () => {
          const j = await stack.queue.getJob(poison);
          const s = j && (await j.getState());
          return s === "active" && j?.processedBy && !owners.has(j.processedBy) ? j : undefined;
        });
        owners.add(job.processedBy as string);
        await sup.children()[0]?.kill();
        await until(
          "the supervisor to hand the job back",
          async () => events.filter((e) => e.includes(`inference/${poison}`)).length === kill,
        );
      }
      expect(await stack.waitDone(batchId, 120_000)).toMatchObject({ succeeded: 1, failed: 1 });
      const views = await stack.views(batchId);
      expect(views.find((v) => v.jobKey === poison)?.error).toBe(workerDeathsReason(3));
      expect(views.find((v) => v.jobKey === fine)?.state).toBe("succeeded");
      const failed = await stack.queue.getJob(poison);
      expect(await failed?.getState()).toBe("failed");
      expect(failed?.attemptsMade).toBe(1); // failed once, by the supervisor; no retry after it
    } finally {
      await sup.stop();
    }
  }, 240_000);
});
