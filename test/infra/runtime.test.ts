// The runtime the suite and the services run on is the one package.json's engines names
// (docs/architecture.md "Runtime"): pnpm puts the project's Node first on PATH, and everything
// started from there spawns Node as process.execPath.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
const wantedMajor = Number(/^>=(\d+)$/.exec(pkg.engines.node)?.[1]);
const major = (version: string) => Number(version.replace(/^v/, "").split(".")[0]);

describe("runtime", () => {
  it("engines names one major, the one of the Dockerfiles' base images", () => {
    expect(wantedMajor).toBeGreaterThanOrEqual(26);
    for (const name of ["Dockerfile", "Dockerfile.gpu"]) {
      const text = fs.readFileSync(path.join(repo, "infra/docker", name), "utf8");
      expect(text, name).toMatch(new RegExp(`^ARG NODE_IMAGE=node:${wantedMajor}-`, "m"));
    }
  });

  it("the test process, a child spawned as process.execPath and `node` on PATH all run that major", async () => {
    expect(major(process.version)).toBe(wantedMajor);
    const child = await run(process.execPath, ["-p", "process.version"]);
    expect(major(child.stdout.trim())).toBe(wantedMajor);
    // What a pnpm script or `pnpm exec` finds as `node` (the suite is run through pnpm).
    const onPath = await run("node", ["-p", "process.version"]);
    expect(major(onPath.stdout.trim())).toBe(wantedMajor);
  });

  it("a child runs a .ts entry and a worker thread runs a .ts file, with no loader", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-runtime-"));
    try {
      fs.writeFileSync(path.join(dir, "answer.ts"), "export const answer: number = 42;\n");
      fs.writeFileSync(
        path.join(dir, "main.ts"),
        'import { answer } from "./answer.ts";\nconst v: string = process.version;\nconsole.log(v, answer);\n',
      );
      fs.writeFileSync(
        path.join(dir, "thread.ts"),
        'import { parentPort } from "node:worker_threads";\nimport { answer } from "./answer.ts";\n' +
          "parentPort?.postMessage({ version: process.version as string, answer });\n",
      );
      const child = await run(process.execPath, [path.join(dir, "main.ts")]);
      expect(child.stdout.trim()).toBe(`${process.version} 42`);
      expect(child.stderr).toBe(""); // no experimental-feature warning
      const reply = await new Promise((resolve, reject) => {
        const worker = new Worker(path.join(dir, "thread.ts"));
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      expect(reply).toEqual({ version: process.version, answer: 42 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
