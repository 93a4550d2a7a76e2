import { it, expect } from "vitest";
import { MiB } from "/work/main/packages/api/src/deps.ts";
import { randomBlob, startTestApi } from "/work/main/packages/api/test/helpers.ts";
it("dbg", async () => {
  const t = await startTestApi({ maxBlobBytes: 13 * MiB }, { TEST_LOG_LEVEL: "debug" });
  const r = await t.acme("/v1/blobs", { method: "PUT", body: new Uint8Array(randomBlob(14 * MiB)) });
  console.log(r.status, await r.text());
  const t0 = Date.now();
  const r2 = await t.acme("/v1/blobs/uploads", { method: "POST", body: JSON.stringify({ sha256: "a".repeat(64), size: 5 }), headers: { "content-type": "application/json" } });
  console.log(r2.status, await r2.text(), Date.now() - t0);
  await t.stop();
}, 100000);
