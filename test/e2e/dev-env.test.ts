import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../faults/helpers.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/** The environment of this test without anything that points at a stack: only --env may. */
const bareEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(S3_|MEDIAQ_|REDIS_URL$|QUEUE_PREFIX$|API_KEYS$|TEST_REDIS_URL$|TEST_S3_ENDPOINT$)/.test(k),
    ),
  ),
  LOG_PRETTY: "false",
});

/** A child whose output is kept, and whose exit can be awaited. */
function start(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MEDIAQ, ...args], { env: bareEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Log lines of a process's output (pino JSON) with this message. */
const logLines = (output: string, msg: string) =>
  output
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as { pid: number; jobKey?: string });

/** `mediaq dev` writes <data-dir>/env; other commands use the running stack with `--env` alone. */
describe("mediaq dev: the environment it writes", () => {
  let dir: string;
  let dataDir: string;
  let envFile: string;
  let dev: ReturnType<typeof start>;
  let worker: ReturnType<typeof start> | undefined;

  const mediaq = (args: string[]) =>
    run(process.execPath, [MEDIAQ, ...args], { env: bareEnv(), maxBuffer: 16 * 1024 * 1024 });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-dev-env-"));
    dataDir = path.join(dir, "stack");
    envFile = path.join(dataDir, "env");
    dev = start(["dev", "--port", "0", "--data-dir", dataDir]);
    await until(
      "mediaq dev to write its env file",
      async () => {
        if (dev.child.exitCode !== null) throw new Error(`mediaq dev exited:\n${dev.output()}`);
        return fs.existsSync(envFile);
      },
      150_000,
    );
  }, 180_000);

  afterAll(async () => {
    worker?.child.kill("SIGTERM");
    await worker?.exited;
    dev?.child.kill("SIGINT");
    await dev?.exited;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("prints and writes the API, Redis and S3 settings, readable by its user only", async () => {
    const env = parseEnv(fs.readFileSync(envFile, "utf8")) as Record<string, string>;
    for (const key of ["MEDIAQ_API_URL", "MEDIAQ_API_KEY", "REDIS_URL", "S3_ENDPOINT", "S3_BUCKET"])
      expect(env[key], key).toBeTruthy();
    expect((await fetch(`${env.MEDIAQ_API_URL}/readyz`)).status).toBe(200);
    expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    await until("the settings to be printed", async () =>
      dev.output().includes(`MEDIAQ_API_KEY=${env.MEDIAQ_API_KEY}`),
    );
    expect(dev.output()).toContain(`REDIS_URL=${env.REDIS_URL}`);
  });

  it("snapshot create and reindex reach the stack's Redis and S3 with --env", async () => {
    const made = JSON.parse((await mediaq(["--env", envFile, "snapshot", "create", "--json"])).stdout);
    expect(made.keys).toBeGreaterThan(0); // at least the demo model's tag
    const listed = JSON.parse((await mediaq(["snapshot", "list", "--json", "--env", envFile])).stdout);
    expect(JSON.stringify(listed)).toContain(made.id);
    const reindexed = JSON.parse((await mediaq(["--env", envFile, "reindex", "--json"])).stdout);
    expect(reindexed.skipped).toEqual([]);
  });

  it("a second worker started with --env takes jobs of a batch submitted with --env", async () => {
    worker = start(["worker", "--gpus", "0", "--env", envFile]);
    await until(
      "the second worker to start",
      async () => logLines(worker?.output() ?? "", "worker started").length > 0,
      90_000,
    );

    const folder = path.join(dir, "inbox");
    fs.mkdirSync(folder);
    const names = ["a", "b", "c", "d"];
    for (const [i, name] of names.entries()) {
      await makeVideo(path.join(folder, `${name}.mp4`), { seconds: 1, frequency: 400 + i * 50 });
      await makeAudio(path.join(folder, `${name}.wav`), { seconds: 1, frequency: 200 + i * 40 });
    }
    const submitted = await mediaq([
      "--env",
      envFile,
      "submit",
      folder,
      "--model",
      "demo",
      "--params",
      "box=[40,30,80,70]",
      "--wait",
      "--json",
    ]);
    const { batch } = JSON.parse(submitted.stdout);
    expect(batch.counts.succeeded).toBe(names.length);
    // The dev stack's own worker runs one job at a time: the second one took some of them.
    const taken = logLines(worker.output(), "job succeeded").map((l) => l.jobKey);
    expect(taken.length).toBeGreaterThan(0);
    const env = parseEnv(fs.readFileSync(envFile, "utf8")) as Record<string, string>;
    const page = await fetch(`${env.MEDIAQ_API_URL}/v1/batches/${batch.id}/items`, {
      headers: { authorization: `Bearer ${env.MEDIAQ_API_KEY}` },
    });
    const jobKeys = ((await page.json()) as { items: { jobKey: string }[] }).items.map((i) => i.jobKey);
    expect(jobKeys).toEqual(expect.arrayContaining(taken));
  }, 300_000);
});
