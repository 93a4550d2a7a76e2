import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../faults/helpers.ts";

/** `mediaq dev` keeps a worker running: a dead one is started again (docs/architecture.md#worker-deaths). */
describe("mediaq dev: its worker", () => {
  let stack: DevStack;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-dev-worker-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), registerDemoModel: false });
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is restarted after a SIGKILL", async () => {
    const log = path.join(dir, "stack", "logs", "worker-0.log");
    const started = () =>
      (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")
        .split("\n")
        .filter((l) => l.includes('"worker started"'))
        .map((l) => JSON.parse(l) as { pid: number });
    await until("the worker to start", async () => started().length === 1, 60_000);
    const first = stack.workers.children()[0];
    expect(first?.child.pid).toBe(started()[0]?.pid);
    await first?.kill();
    await until("the worker to be started again", async () => started().length === 2, 60_000);
    expect(started()[1]?.pid).not.toBe(first?.child.pid);
    expect(stack.workers.children()[0]?.child.pid).toBe(started()[1]?.pid);
  }, 120_000);
});
