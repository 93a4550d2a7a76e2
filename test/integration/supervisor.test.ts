import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { superviseWorkers } from "../../packages/cli/src/supervisor.ts";
import { startInfra, type TestInfra } from "../harness/infra.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("mediaq worker --gpus: the supervisor", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => {
    await infra?.stop();
  });

  it("starts one worker per card, restarts a SIGKILLed one, and stop() drains both (exit 0)", async () => {
    const logDir = path.join(infra.dir, "logs");
    fs.mkdirSync(logDir, { recursive: true });
    const events: string[] = [];
    const sup = superviseWorkers({
      cards: [0, 1],
      baseDelayMs: 50,
      env: { ...infra.env, LOG_LEVEL: "info" },
      logDir,
      log: (line) => events.push(line),
    });
    const logOf = (card: number) => {
      const file = path.join(logDir, `worker-${card}.log`);
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    };
    const started = (card: number) =>
      logOf(card)
        .split("\n")
        .filter((l) => l.includes('"worker started"'))
        .map((l) => JSON.parse(l) as { device: number; pid: number });
    try {
      await until("both workers to start", () => started(0).length === 1 && started(1).length === 1);
      expect(started(0)[0]?.device).toBe(0);
      expect(started(1)[0]?.device).toBe(1);
      expect(sup.children()).toHaveLength(2);

      const victim = sup.children().find((c) => c.child.pid === started(0)[0]?.pid);
      expect(victim).toBeDefined();
      await victim?.kill();
      await until("card 0's worker to be restarted", () => started(0).length === 2);
      expect(started(0)[1]?.pid).not.toBe(started(0)[0]?.pid);
      expect(started(0)[1]?.device).toBe(0);
      expect(events.some((e) => /worker for card 0 exited \(SIGKILL\); restarting in 50 ms/.test(e))).toBe(true);
      expect(started(1)).toHaveLength(1); // the other card was left alone
    } finally {
      const children = sup.children();
      await sup.stop();
      expect(children.map((c) => c.child.exitCode)).toEqual([0, 0]);
    }
    expect(logOf(0)).toContain("worker stopped");
    expect(logOf(1)).toContain("worker stopped");
  }, 90_000);
});
