import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { START_TIMEOUT_MS } from "../../../test/harness/entry.ts";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const main = path.resolve(here, "../src/main.ts");

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

describe("api entry point", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => infra?.stop());

  it("fails at start-up naming a bad variable", async () => {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...infra.env, API_PORT: "http" },
      stdio: "pipe",
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const [code] = await once(child, "exit");
    expect(code).toBe(1);
    expect(stderr).toContain("API_PORT");
  });

  it("serves until SIGTERM, then closes and exits 0", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...infra.env, API_HOST: "127.0.0.1", API_PORT: String(port), API_KEYS: "a:k" },
      stdio: "pipe",
    });
    const exited = once(child, "exit");
    let ready = false;
    for (const until = Date.now() + START_TIMEOUT_MS; !ready && Date.now() < until; ) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toBe(true);
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
