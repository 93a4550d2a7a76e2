/**
 * What checking presigned uploads costs: a presigned upload used to be offer + PUT; now it is
 * offer + PUT + complete, where the API reads the object back, hashes it and copies it to
 * its content address. Both are measured in the same run against the same S3 server, with
 * the streamed PUT /v1/blobs alongside for reference.
 */
import { randomBytes } from "node:crypto";
import { startApi } from "@mediaq/api";
import { sha256Hex } from "@mediaq/shared";
import { startInfra } from "../harness/infra.ts";

const MB = 1024 * 1024;
const COUNT = Number(process.env.BENCH_UPLOADS ?? 4);
const SIZE = Number(process.env.BENCH_UPLOAD_MB ?? 64) * MB;

export default async function bench(): Promise<void> {
  const infra = await startInfra({
    env: {
      LOG_LEVEL: "silent",
      API_KEYS: "bench:bench-key",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      RATE_LIMIT_PER_MINUTE: "0",
    },
  });
  const api = await startApi(infra.config);
  const call = (p: string, init: RequestInit = {}) =>
    fetch(api.url + p, {
      ...init,
      headers: { authorization: "Bearer bench-key", ...(init.headers as Record<string, string>) },
    });
  const ms = { put: 0, complete: 0, streamed: 0 };
  try {
    for (let i = 0; i < COUNT; i++) {
      const bytes = randomBytes(SIZE);
      const sha256 = sha256Hex(bytes);
      let start = performance.now();
      const offer = (await (
        await call("/v1/blobs/uploads", {
          method: "POST",
          body: JSON.stringify({ sha256, size: SIZE }),
          headers: { "content-type": "application/json" },
        })
      ).json()) as { url: string; headers: Record<string, string>; complete: string };
      const put = await fetch(offer.url, { method: "PUT", body: new Uint8Array(bytes), headers: offer.headers });
      if (!put.ok) throw new Error(`presigned PUT: ${put.status}`);
      ms.put += performance.now() - start;
      start = performance.now();
      const done = await call(offer.complete, { method: "POST" });
      if (done.status !== 201) throw new Error(`complete: ${done.status} ${await done.text()}`);
      ms.complete += performance.now() - start;

      const other = randomBytes(SIZE);
      start = performance.now();
      const streamed = await call("/v1/blobs", { method: "PUT", body: new Uint8Array(other) });
      if (streamed.status !== 201) throw new Error(`PUT /v1/blobs: ${streamed.status}`);
      ms.streamed += performance.now() - start;
    }
  } finally {
    await api.close();
    await infra.stop();
  }
  const total = COUNT * SIZE;
  const mbps = (t: number) => (total / MB / (t / 1000)).toFixed(1);
  console.log(
    `${COUNT} uploads of ${SIZE / MB} MB each, to the ${infra.s3 ? "embedded s3rver" : "configured S3 server"}`,
  );
  console.log(`  offer + presigned PUT (before):          ${mbps(ms.put)} MB/s  (baseline 1.00)`);
  console.log(
    `  + complete (read back, hash, copy):      ${mbps(ms.put + ms.complete)} MB/s  (time x${((ms.put + ms.complete) / ms.put).toFixed(2)})`,
  );
  console.log(`  complete alone:                          ${mbps(ms.complete)} MB/s`);
  console.log(
    `  PUT /v1/blobs (streamed through the API): ${mbps(ms.streamed)} MB/s  (time x${(ms.streamed / ms.put).toFixed(2)})`,
  );
}
