import { execFile } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { type DigestCompare, KeyRing, sameSecret } from "@mediaq/api";
import { apiKeyEntry } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiProcess, KEY_A, KEY_B, problemOf, startApiProcess } from "./api-process.ts";

const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/** crypto.timingSafeEqual, counting its calls and the sizes it was given. */
function countingCompare(): { compare: DigestCompare; calls: number[][] } {
  const calls: number[][] = [];
  return {
    calls,
    compare: (a, b) => {
      calls.push([a.length, b.length]);
      return timingSafeEqual(a, b);
    },
  };
}

describe("security: API keys", () => {
  it("timing of key comparison: every lookup hashes the key and compares 32-byte digests with every entry in constant time", () => {
    const spec = `acme:${KEY_A},globex:${apiKeyEntry("globex", KEY_B).split(":").slice(1).join(":")},ops:k3`;
    const { compare, calls } = countingCompare();
    const ring = new KeyRing(spec, undefined, compare);
    const tries: [string, string | undefined][] = [
      [KEY_A, "acme"],
      [KEY_B, "globex"], // stored as a digest only
      ["k3", "ops"],
      [`${KEY_A.slice(0, -1)}X`, undefined], // wrong, same length as a real key
      ["x", undefined], // wrong, another length
      ["y".repeat(10_000), undefined], // wrong, much longer
      ["", undefined],
    ];
    for (const [key, tenant] of tries) {
      calls.length = 0;
      expect(ring.tenantOf(key)).toBe(tenant);
      // The same path for every key: one constant-time compare per entry, never an early
      // exit, always on two 32-byte digests (so the key's length never reaches the compare).
      expect(calls).toEqual([
        [32, 32],
        [32, 32],
        [32, 32],
      ]);
    }
    // ADMIN_KEY and METRICS_TOKEN go through the same digest compare.
    calls.length = 0;
    expect(sameSecret("short", "a much longer secret", compare)).toBe(false);
    expect(sameSecret("same", "same", compare)).toBe(true);
    expect(calls).toEqual([
      [32, 32],
      [32, 32],
    ]);
  });

  describe("against the API process", () => {
    let t: ApiProcess;
    let keysFile: string;
    beforeAll(async () => {
      keysFile = path.join(process.env.TMPDIR ?? "/tmp", `mediaq-keys-${process.pid}-${Date.now()}`);
      fs.writeFileSync(keysFile, `# rotated by the test\n${apiKeyEntry("initech", "rotating-key-one")}\n`);
      // API_KEYS holds acme's key as a digest only.
      t = await startApiProcess({
        API_KEYS: `${apiKeyEntry("acme", KEY_A)},globex:${KEY_B}`,
        API_KEYS_FILE: keysFile,
      });
    });
    afterAll(async () => {
      await t?.stop();
      fs.rmSync(keysFile, { force: true });
    });

    const asKey = (key: string) => t.anon("/v1/models", { headers: { authorization: `Bearer ${key}` } });

    it("accepts a key stored as a digest; wrong keys of any length get the same 401", async () => {
      expect((await t.acme("/v1/models")).status).toBe(200);
      expect((await t.globex("/v1/models")).status).toBe(200);
      const sameLength = await problemOf(await asKey(`${KEY_A.slice(0, -1)}X`));
      const otherLength = await problemOf(await asKey("x"));
      expect(sameLength).toEqual(otherLength);
      expect(sameLength.status).toBe(401);
    });

    it("rotates keys from API_KEYS_FILE without a restart (file watch and SIGHUP), logging tenants, never keys", async () => {
      expect((await asKey("rotating-key-one")).status).toBe(200);
      fs.writeFileSync(keysFile, `${apiKeyEntry("initech", "rotating-key-two")}\n`);
      await expect.poll(async () => (await asKey("rotating-key-two")).status, { timeout: 15_000 }).toBe(200);
      expect((await asKey("rotating-key-one")).status).toBe(401);

      // A malformed file is refused and the previous keys stay.
      fs.writeFileSync(keysFile, "no colon here\n");
      t.api.child.kill("SIGHUP");
      await expect
        .poll(() => fs.readFileSync(t.logFile, "utf8"), { timeout: 15_000 })
        .toContain("API keys not reloaded");
      expect((await asKey("rotating-key-two")).status).toBe(200);

      // A key made by `mediaq key`: the file holds only its digest.
      const made = JSON.parse(
        (await promisify(execFile)(process.execPath, [MEDIAQ, "key", "initech", "--json"])).stdout,
      ) as {
        key: string;
        entry: string;
      };
      expect(made.entry).toBe(apiKeyEntry("initech", made.key));
      expect(made.entry).not.toContain(made.key);
      fs.writeFileSync(keysFile, `${made.entry}\n`);
      t.api.child.kill("SIGHUP");
      await expect.poll(async () => (await asKey(made.key)).status, { timeout: 15_000 }).toBe(200);
      expect(fs.readFileSync(t.logFile, "utf8")).toMatch(/"reason":"SIGHUP".*"msg":"API keys reloaded"/);

      const log = fs.readFileSync(t.logFile, "utf8");
      expect(log).toContain('"tenant":"acme"');
      expect(log).toContain('"tenant":"initech"');
      for (const secret of [KEY_A, KEY_B, "rotating-key-one", "rotating-key-two", made.key])
        expect(log).not.toContain(secret);
    });
  });
});
