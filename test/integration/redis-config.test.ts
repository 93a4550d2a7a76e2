import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, spawnManaged, waitForPort } from "@mediaq/cli/embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, createRedis, loadConfig, redisOptions } from "@mediaq/shared";

const run = promisify(execFile);

/** Runs a service's main.ts with this environment; resolves with its exit code and stderr. */
function runService(service: "api" | "worker", env: Record<string, string>): Promise<{ code: number; out: string }> {
  const main = fileURLToPath(import.meta.resolve(`@mediaq/${service}/main`));
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code: code ?? -1, out })));
}

describe("Redis settings", () => {
  it("REDIS_SENTINELS wins over a REDIS_URL that is also set, which is not refused", () => {
    const config = loadConfig({
      REDIS_URL: "redis://127.0.0.1:1",
      REDIS_SENTINELS: "127.0.0.1:26379, [::1]:26380",
      REDIS_SENTINEL_NAME: "mediaq",
      REDIS_SENTINEL_PASSWORD: "s-secret",
      REDIS_PASSWORD: "d-secret",
    });
    const o = redisOptions(config, "worker");
    expect(o.sentinels).toEqual([
      { host: "127.0.0.1", port: 26379 },
      { host: "::1", port: 26380 },
    ]);
    expect(o).toMatchObject({ name: "mediaq", sentinelPassword: "s-secret", password: "d-secret", role: "master" });
    expect(o.host).toBeUndefined();
  });

  it("gives workers maxRetriesPerRequest null and producers no offline queue (BullMQ's production settings)", () => {
    const config = loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" });
    expect(redisOptions(config, "worker")).toMatchObject({ maxRetriesPerRequest: null, enableOfflineQueue: true });
    expect(redisOptions(config, "producer")).toMatchObject({ enableOfflineQueue: false });
  });

  it("refuses a Sentinel list without a name, naming REDIS_SENTINEL_NAME", () => {
    expect(() => loadConfig({ REDIS_SENTINELS: "127.0.0.1:26379" })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_SENTINELS: "127.0.0.1:26379" })).toThrow(/REDIS_SENTINEL_NAME/);
    expect(() => loadConfig({ REDIS_SENTINELS: "sentinel-a", REDIS_SENTINEL_NAME: "m" })).toThrow(
      /REDIS_SENTINELS="sentinel-a": expected host:port/,
    );
  });

  it("refuses a TLS file that does not exist, naming the setting", () => {
    expect(() =>
      loadConfig({ REDIS_URL: "rediss://127.0.0.1:6380", REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" }),
    ).toThrow(/REDIS_TLS_CA_FILE="\/nonexistent\/ca.pem": no such file/);
  });

  it("a service exits at start naming the setting: no name, an unreachable Sentinel, a missing TLS file", async () => {
    const dead = await freePort(); // loopback, nobody listens
    const noName = await runService("worker", { REDIS_SENTINELS: `127.0.0.1:${dead}` });
    expect(noName.code).toBe(1);
    expect(noName.out).toMatch(/REDIS_SENTINEL_NAME is not set/);

    for (const service of ["worker", "api"] as const) {
      const unreachable = await runService(service, {
        REDIS_SENTINELS: `127.0.0.1:${dead}`,
        REDIS_SENTINEL_NAME: "mediaq",
      });
      expect(unreachable.code, unreachable.out).toBe(1);
      expect(unreachable.out).toMatch(new RegExp(`REDIS_SENTINELS: no Sentinel answered \\(127\\.0\\.0\\.1:${dead}: `));
    }

    const tls = await runService("worker", { REDIS_URL: "rediss://127.0.0.1:1", REDIS_TLS_KEY_FILE: "/nope/key.pem" });
    expect(tls.code).toBe(1);
    expect(tls.out).toMatch(/REDIS_TLS_KEY_FILE="\/nope\/key.pem": no such file/);
  }, 60_000);
});

describe("the README's Sentinel deployment", () => {
  it("shows infra/redis/redis.conf and sentinel.conf as written (the failover test runs those files)", () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    for (const file of ["redis.conf", "sentinel.conf"]) {
      const lines = fs
        .readFileSync(path.join(root, "infra/redis", file), "utf8")
        .trimEnd()
        .split("\n");
      expect(readme, file).toContain(lines.map((l) => `  ${l}`).join("\n"));
    }
    for (const setting of [
      "REDIS_SENTINELS=",
      "REDIS_SENTINEL_NAME=mediaq",
      "REDIS_SENTINEL_PASSWORD=",
      "REDIS_PASSWORD=",
    ])
      expect(readme).toContain(`  ${setting}`);
  });
});

describe("rediss:// with CA, certificate and key files", () => {
  let dir: string;
  let server: ReturnType<typeof spawnManaged>;
  let port: number;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-tls-"));
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) => run("openssl", args);
    await ssl("genrsa", "-out", f("ca.key"), "2048");
    await ssl(
      "req",
      "-x509",
      "-new",
      "-key",
      f("ca.key"),
      "-days",
      "1",
      "-subj",
      "/CN=mediaq-test-ca",
      "-out",
      f("ca.pem"),
    );
    for (const who of ["server", "client"]) {
      await ssl("genrsa", "-out", f(`${who}.key`), "2048");
      await ssl(
        "req",
        "-new",
        "-key",
        f(`${who}.key`),
        "-subj",
        `/CN=${who === "server" ? "127.0.0.1" : "client"}`,
        "-out",
        f(`${who}.csr`),
      );
      fs.writeFileSync(
        f(`${who}.ext`),
        who === "server" ? "subjectAltName=IP:127.0.0.1\n" : "extendedKeyUsage=clientAuth\n",
      );
      await ssl(
        ...["x509", "-req", "-in", f(`${who}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial"],
        ...["-days", "1", "-extfile", f(`${who}.ext`), "-out", f(`${who}.pem`)],
      );
    }
    port = await freePort();
    server = spawnManaged("redis-server", [
      ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ...["--tls-cert-file", f("server.pem"), "--tls-key-file", f("server.key"), "--tls-ca-cert-file", f("ca.pem")],
      ...["--tls-auth-clients", "yes", "--dir", dir],
    ]);
    await waitForPort(port, server.child, "redis-server (TLS)");
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("connects with the CA and a client certificate; without the client certificate the server refuses", async () => {
    const f = (n: string) => path.join(dir, n);
    const base = { REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_TLS_CA_FILE: f("ca.pem") };
    const redis = createRedis(
      loadConfig({ ...base, REDIS_TLS_CERT_FILE: f("client.pem"), REDIS_TLS_KEY_FILE: f("client.key") }),
    );
    try {
      expect(await redis.ping()).toBe("PONG");
    } finally {
      redis.disconnect();
    }
    const anonymous = createRedis(loadConfig(base), "producer");
    anonymous.on("error", () => undefined);
    try {
      await expect(
        new Promise((resolve, reject) => {
          anonymous.once("ready", resolve);
          setTimeout(() => reject(new Error("not ready")), 3000);
        }),
      ).rejects.toThrow("not ready");
    } finally {
      anonymous.disconnect();
    }
  });
});
