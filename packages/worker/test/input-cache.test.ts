import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputCache, inputsRoot } from "../src/input-cache.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

// A worker fetches an input once; its jobs get links; the sweep keeps the cache bounded
// (docs/architecture.md#input-cache). Real S3 (the harness's server).
describe("input cache", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startWorkerHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("downloads a blob once, links it into each job, and sweeps least recently used first", async () => {
    const root = path.join(h.infra.dir, "cache-root");
    const MB = 1024 * 1024;
    const bytes = { a: randomBytes(MB), b: randomBytes(MB) };
    const sha = { a: await h.putBlob(bytes.a), b: await h.putBlob(bytes.b) };
    const cache = new InputCache(root, 1.5 * MB);
    const job = (n: string) => {
      const dir = path.join(root, "jobs", n);
      fs.mkdirSync(dir, { recursive: true });
      return (name: string) => path.join(dir, name);
    };
    const [one, two, three] = [job("one"), job("two"), job("three")];
    const fetch = (s: string, file: string) => cache.fetch(h.s3, h.infra.config.S3_BUCKET, s, "input", file);

    expect(await fetch(sha.a, one("video"))).toBe(false); // downloaded
    expect(await fetch(sha.a, two("video"))).toBe(true); // held already: nothing fetched
    expect(fs.readFileSync(two("video")).equals(bytes.a)).toBe(true);
    expect(fs.statSync(two("video")).ino).toBe(fs.statSync(one("video")).ino); // one copy on disk
    // Two jobs asking at once share one download.
    const both = await Promise.all([fetch(sha.b, one("audio")), fetch(sha.b, three("audio"))]);
    expect(both).toEqual([false, false]);
    expect(fs.readFileSync(three("audio")).equals(bytes.b)).toBe(true);

    // 2 MB cached, 1.5 MB allowed: the least recently used goes (a, last used before b).
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(inputsRoot(root), sha.a), past, past);
    // A download a dead worker left, older than the TTL.
    const partial = path.join(inputsRoot(root), `.partial-${sha.a}-dead`);
    fs.writeFileSync(partial, "half");
    fs.utimesSync(partial, past, past);
    const swept = await cache.sweep(30);
    expect(swept).toEqual({ removed: 2, freedBytes: MB + 4 });
    expect(fs.readdirSync(inputsRoot(root))).toEqual([sha.b]);
    // The jobs' links keep their bytes.
    expect(fs.readFileSync(one("video")).equals(bytes.a)).toBe(true);
    // Fetched again once swept.
    expect(await fetch(sha.a, three("video"))).toBe(false);
    // An unknown blob is bad input, as without the cache.
    await expect(fetch("0".repeat(64), three("other"))).rejects.toThrow(/does not exist; upload it first/);
  });
});
