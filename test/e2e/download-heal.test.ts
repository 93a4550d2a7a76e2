import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CorruptingProxy, startCorruptingProxy } from "../harness/corrupting-proxy.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/**
 * `mediaq download` heals: a part whose bytes arrive corrupted is fetched again. The stack
 * signs its links for a proxy (S3_PUBLIC_ENDPOINT) that flips a byte in the middle of a
 * part's download.
 */
describe("mediaq download: a corrupted part", () => {
  let dir: string;
  let proxy: CorruptingProxy;
  let stack: DevStack;
  let packageId: string;
  let parts: string[];

  const mediaq = (args: string[]) =>
    run(process.execPath, [MEDIAQ, ...args], {
      env: { ...process.env, MEDIAQ_API_URL: stack.apiUrl, MEDIAQ_API_KEY: stack.apiKey },
      maxBuffer: 16 * 1024 * 1024,
    });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-heal-"));
    proxy = await startCorruptingProxy(/\.zip$/);
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), env: { S3_PUBLIC_ENDPOINT: proxy.url } });
    proxy.target = new URL(stack.s3.endpoint);
    const folder = path.join(dir, "inbox");
    fs.mkdirSync(folder);
    for (const [i, name] of ["alice", "bob"].entries()) {
      await makeVideo(path.join(folder, `${name}.mp4`), { seconds: 1, frequency: 500 + i * 100 });
      await makeAudio(path.join(folder, `${name}.wav`), { seconds: 1, frequency: 250 + i * 50 });
    }
    const args = ["submit", folder, "--model", "demo", "--params", "box=[40,30,80,70]", "--wait", "--json"];
    const { batch } = JSON.parse((await mediaq(args)).stdout);
    // The smallest part size: each output gets a part of its own.
    const pkg = JSON.parse((await mediaq(["package", batch.id, "--part-size", "16KiB", "--json"])).stdout);
    packageId = pkg.id;
    parts = (pkg.parts as { name: string }[]).map((p) => p.name);
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
    await proxy?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is fetched again; the command exits 0 with every part matching SHA256SUMS", async () => {
    expect(parts.length).toBeGreaterThanOrEqual(2);
    proxy.mode = "first";
    const out = path.join(dir, "out");
    const { stdout } = await mediaq(["download", packageId, out, "--json"]);
    const result = JSON.parse(stdout) as { files: string[]; refetched: { part: string; reason: string }[] };

    // Every part's first download was corrupted in transit, and each was fetched once more.
    expect([...proxy.corrupted.values()]).toEqual(parts.map(() => 1));
    expect([...proxy.gets.values()]).toEqual(parts.map(() => 2));
    expect(result.refetched.map((r) => r.part).sort()).toEqual([...parts].sort());
    for (const r of result.refetched) expect(r.reason).toMatch(/does not match SHA256SUMS/);

    const sums = new Map(
      fs
        .readFileSync(path.join(out, "SHA256SUMS"), "utf8")
        .trim()
        .split("\n")
        .map((line) => line.split(/\s+\*?/).reverse() as [string, string]),
    );
    expect(result.files).toHaveLength(parts.length);
    for (const name of parts) expect(sha256Hex(fs.readFileSync(path.join(out, name))), name).toBe(sums.get(name));
  });

  it("resumes a part whose transfer was cut off with a Range request", async () => {
    proxy.mode = "cut-first";
    proxy.gets.clear();
    proxy.corrupted.clear();
    proxy.ranges = [];
    const out = path.join(dir, "out-cut");
    const { stdout } = await mediaq(["download", packageId, out, "--json", "--concurrency", "1"]);
    const result = JSON.parse(stdout) as { files: string[]; refetched: { part: string; reason: string }[] };
    expect([...proxy.corrupted.values()]).toEqual(parts.map(() => 1));
    // Each part: a whole GET cut halfway, then the rest from where the file stopped.
    expect(proxy.ranges).toHaveLength(2 * parts.length);
    for (let i = 0; i < parts.length; i++) {
      expect(proxy.ranges[2 * i]).toBe("");
      expect(proxy.ranges[2 * i + 1]).toMatch(/^bytes=[1-9]\d*-$/);
    }
    expect(result.refetched).toHaveLength(parts.length);
    const sums = new Map(
      fs
        .readFileSync(path.join(out, "SHA256SUMS"), "utf8")
        .trim()
        .split("\n")
        .map((line) => line.split(/\s+\*?/).reverse() as [string, string]),
    );
    for (const name of parts) expect(sha256Hex(fs.readFileSync(path.join(out, name))), name).toBe(sums.get(name));
  });

  it("gives up with exit 1 once its retries are spent, and leaves no bad part behind", async () => {
    proxy.mode = "always";
    proxy.gets.clear();
    const out = path.join(dir, "out-bad");
    const err = await mediaq(["download", packageId, out, "--retries", "1", "--concurrency", "1"]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/gave up after 2 fetches/);
    // One part was tried twice (the first fetch and one retry) before the command stopped.
    expect(Math.max(...proxy.gets.values())).toBe(2);
    for (const name of parts) expect(fs.existsSync(path.join(out, name)), name).toBe(false);
  });
});
