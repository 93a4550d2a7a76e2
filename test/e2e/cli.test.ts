import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { createRedis, redisKeys, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../harness/media.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/** The real `mediaq` binary against the embedded stack, as a user runs it. */
describe("mediaq CLI", () => {
  let stack: DevStack;
  let dir: string;
  let folder: string;

  const mediaq = (args: string[], opts: { env?: Record<string, string> } = {}) =>
    run(process.execPath, [MEDIAQ, ...args], {
      env: { ...process.env, MEDIAQ_API_URL: stack.apiUrl, MEDIAQ_API_KEY: stack.apiKey, ...opts.env },
      maxBuffer: 16 * 1024 * 1024,
    });
  const inferenceRuns = async () => {
    const redis = createRedis({ REDIS_URL: stack.redis.url });
    const n = Number((await redis.get(redisKeys.inferenceRuns)) ?? 0);
    await redis.quit();
    return n;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-cli-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack") });
    folder = path.join(dir, "inbox");
    fs.mkdirSync(folder);
    for (const [i, name] of ["alice", "bob"].entries()) {
      await makeVideo(path.join(folder, `${name}.mp4`), { seconds: 1, frequency: 500 + i * 100 });
      await makeAudio(path.join(folder, `${name}.wav`), { seconds: 1, frequency: 250 + i * 50 });
    }
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("submits a folder, waits, downloads verified parts, and resumes without redoing anything", async () => {
    const out = path.join(dir, "out");
    const first = await mediaq([
      "submit",
      folder,
      "--model",
      "demo",
      "--params",
      "box=[40,30,80,70]",
      "--download",
      out,
      "--extract",
      "--json",
    ]);
    const result = JSON.parse(first.stdout);
    expect(result.batch.counts.succeeded).toBe(2);
    expect(result.uploaded).toBe(4);
    expect(result.downloaded.length).toBeGreaterThan(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8"));
    for (const item of manifest.items as { entry: string; sha256: string }[]) {
      expect(sha256Hex(fs.readFileSync(path.join(out, item.entry)))).toBe(item.sha256);
    }
    expect(await inferenceRuns()).toBe(2);

    // The same command again: same batch (idempotency key), nothing uploaded, nothing computed.
    const again = JSON.parse(
      (await mediaq(["submit", folder, "--model", "demo", "--params", "box=[40,30,80,70]", "--wait", "--json"])).stdout,
    );
    expect(again.batch.id).toBe(result.batch.id);
    expect(again.uploaded).toBe(0);
    expect(await inferenceRuns()).toBe(2);

    const status = JSON.parse((await mediaq(["status", result.batch.id, "--json"])).stdout);
    expect(status.done).toBe(true);
  });

  it("runs the demo from a fresh data dir and stops every process it started", async () => {
    const dataDir = path.join(dir, "demo");
    const { stdout } = await mediaq(["demo", "--data-dir", dataDir, "--items", "2"]);
    expect(stdout).toMatch(/-part-001-of-001\.zip\s+[\d.]+ KiB\s+sha256 [0-9a-f]{64}/);
    expect(stdout).toContain("manifest.json");
    expect(stdout).toContain("SHA256SUMS");
    // Its redis-server and S3 server are gone: their data directories are no longer in use.
    const { stdout: procs } = await run("ps", ["-eo", "args"]);
    expect(procs).not.toContain(dataDir);
  });

  it("submits more than 10,000 items as one batch plus an append; a re-run appends nothing; open prints the page", async () => {
    // A CSV of 10,002 rows on one pair: one job key, so the worker runs it once.
    const csv = path.join(folder, "..", "many.csv");
    const rows = Array.from({ length: 10_002 }, (_, i) => `n-${i}.mp4,inbox/alice.mp4,inbox/alice.wav`);
    fs.writeFileSync(csv, `name,video,audio\n${rows.join("\n")}\n`);
    const args = ["submit", csv, "--model", "demo", "--params", "box=[40,30,80,70]", "--json"];
    const first = JSON.parse((await mediaq(args)).stdout);
    expect(first.batch.total).toBe(10_002);
    const again = JSON.parse((await mediaq(args)).stdout);
    expect(again.batch.id).toBe(first.batch.id);
    expect(again.batch.total).toBe(10_002);
    const items = await stack.client.listItems(first.batch.id, { cursor: "10000", limit: 10 });
    expect(items.items.map((i) => i.name)).toEqual(["n-10000.mp4", "n-10001.mp4"]);

    const { stdout } = await mediaq(["open", first.batch.id]);
    expect(stdout.trim()).toBe(`${stack.apiUrl}/#/batches/${first.batch.id}`);
  });

  it("refuses unpaired files before uploading anything, with exit code 1", async () => {
    const bad = path.join(dir, "bad");
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(folder, "alice.mp4"), path.join(bad, "carol.mp4"));
    const err = await mediaq(["submit", bad, "--model", "demo"]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain("carol.mp4: no audio named carol.wav, .mp3 or .m4a");
  });

  it("shows an overall bar and per-item lines on a terminal (tmux)", async () => {
    const session = `mq${process.pid}`;
    const tty = path.join(dir, "tty");
    fs.mkdirSync(tty);
    // Long enough (300 frames) that its running line is on screen for a few seconds.
    await makeVideo(path.join(tty, "dave.mp4"), { seconds: 12, frequency: 900 });
    await makeAudio(path.join(tty, "dave.wav"), { seconds: 12, frequency: 333 });
    const env = `MEDIAQ_API_URL=${stack.apiUrl} MEDIAQ_API_KEY=${stack.apiKey}`;
    const cmd = `${env} ${process.execPath} ${MEDIAQ} submit ${tty} --model demo --params 'box=[40,30,80,70]' --wait; echo EXIT=$?; sleep 30`;
    await run("tmux", ["new-session", "-d", "-s", session, "-x", "160", "-y", "40", cmd]);
    try {
      let screen = "";
      let sawItemLine = false;
      for (let i = 0; i < 1200 && !screen.includes("EXIT="); i++) {
        await new Promise((r) => setTimeout(r, 100));
        screen = (await run("tmux", ["capture-pane", "-p", "-t", session])).stdout;
        sawItemLine ||= /^dave\.mp4\s+\[.*\] \d+% \| \w+/m.test(screen);
      }
      fs.mkdirSync(path.resolve(import.meta.dirname, "../artifacts"), { recursive: true });
      fs.writeFileSync(path.resolve(import.meta.dirname, "../artifacts/submit-wait-terminal.txt"), screen);
      expect(screen).toContain("EXIT=0");
      expect(screen).toMatch(/batch\s+\[[^\]]+\] 100%/);
      expect(screen).toContain("done   dave.mp4");
      // While it ran, the item had a line of its own (name, bar, stage); finished, it leaves none.
      expect(sawItemLine).toBe(true);
      expect(screen).not.toMatch(/^dave\.mp4\s+\[/m);
    } finally {
      await run("tmux", ["kill-session", "-t", session]).catch(() => {});
    }
  });
});
