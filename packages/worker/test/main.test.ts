import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { START_TIMEOUT_MS } from "../../../test/harness/entry.ts";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(here, "..", "src", "main.ts");

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("worker entry point (src/main.ts)", () => {
  let infra: TestInfra;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    await infra?.stop();
  });

  it("serves metrics and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...infra.env, LOG_LEVEL: "info", METRICS_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let logs = "";
    child.stdout?.on("data", (d) => {
      logs += d;
    });
    child.stderr?.on("data", (d) => {
      logs += d;
    });
    const until = Date.now() + START_TIMEOUT_MS;
    while (!logs.includes("worker started") && child.exitCode === null && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    expect(logs).toContain("worker started");

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain("mediaq_jobs_total");
    expect(metrics).toContain('service="worker"');

    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(logs).toContain("worker stopped");
    child = undefined;
  });
});
