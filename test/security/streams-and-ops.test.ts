import { randomBytes } from "node:crypto";
import { freePort } from "@mediaq/cli/embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiProcess, type Call, json, problemOf, startApiProcess } from "./api-process.ts";

const METRICS_TOKEN = "metrics-token-0123456789abcdef";

async function makeBatch(call: Call): Promise<string> {
  const put = async () =>
    (
      (await (await call("/v1/blobs", { method: "PUT", body: new Uint8Array(randomBytes(512)) })).json()) as {
        sha256: string;
      }
    ).sha256;
  const [video, audio] = [await put(), await put()];
  await call("/v1/models?tag=m&adapter=wav2lip", { method: "POST", body: new Uint8Array(randomBytes(128)) });
  const res = await call(
    "/v1/batches",
    json({ model: "m", items: [{ name: "a.mp4", inputs: { video, audio } }], params: { box: [0, 0, 8, 8] } }),
  );
  return ((await res.json()) as { id: string }).id;
}

/** Opens an event stream and waits for its first bytes; abort() closes it. */
async function openStream(call: Call, batchId: string): Promise<{ res: Response; abort: () => void }> {
  const controller = new AbortController();
  const res = await call(`/v1/batches/${batchId}/events`, { signal: controller.signal });
  if (res.ok) await res.body?.getReader().read();
  return { res, abort: () => controller.abort() };
}

describe("security: event streams and operational endpoints", () => {
  let t: ApiProcess;
  const MAX_STREAMS = 3;
  beforeAll(async () => {
    t = await startApiProcess({
      MAX_EVENT_STREAMS_PER_TENANT: String(MAX_STREAMS),
      METRICS_TOKEN,
      ADMIN_KEY: "admin-key-0123456789",
      // Small enough to reach: /admin is limited per address by RATE_LIMIT_PER_MINUTE.
      RATE_LIMIT_PER_MINUTE: "40",
    });
  });
  afterAll(async () => t?.stop());

  it("SSE exhaustion: a tenant holds at most MAX_EVENT_STREAMS_PER_TENANT streams (429), others are not affected", async () => {
    const [mine, theirs] = [await makeBatch(t.acme), await makeBatch(t.globex)];
    const open = [];
    for (let i = 0; i < MAX_STREAMS; i++) open.push(await openStream(t.acme, mine));
    expect(open.map((s) => s.res.status)).toEqual(Array(MAX_STREAMS).fill(200));
    const refused = await openStream(t.acme, mine);
    const problem = await problemOf(refused.res);
    expect(problem.status).toBe(429);
    expect(problem.detail).toContain("MAX_EVENT_STREAMS_PER_TENANT");
    // globex has its own slots.
    const other = await openStream(t.globex, theirs);
    expect(other.res.status).toBe(200);
    other.abort();
    // A closed stream frees its slot.
    open.pop()?.abort();
    await expect
      .poll(async () => {
        const again = await openStream(t.acme, mine);
        again.abort();
        return again.res.status;
      })
      .toBe(200);
    for (const s of open) s.abort();
  });

  it("/metrics without a token: 401 problem+json; with METRICS_TOKEN: the metrics", async () => {
    const anon = await problemOf(await t.anon("/metrics"));
    expect(anon.status).toBe(401);
    const tenantKey = await problemOf(await t.acme("/metrics"));
    expect(tenantKey.status).toBe(401);
    const ok = await t.anon("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("mediaq_queue_jobs");
  });

  it("/readyz reveals no names and probes at most once per 5 s however often it is asked; /docs is public", async () => {
    const pings = async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await t.redis.info("commandstats"))?.[1] ?? 0);
    const before = await pings();
    const start = Date.now();
    for (let i = 0; i < 50; i++) {
      const ready = await t.anon("/readyz");
      expect(ready.status).toBe(200);
      const text = await ready.text();
      expect(text).not.toContain(t.infra.config.S3_BUCKET);
      expect(text).not.toContain(t.infra.env.REDIS_URL as string);
    }
    const probes = (await pings()) - before;
    // Without the cache this would be 50: one Redis PING per started 5 s period at most.
    expect(probes).toBeLessThanOrEqual(Math.floor((Date.now() - start) / 5000) + 1);
    expect((await t.anon("/docs/json")).status).toBe(200);
  });

  it("CSP present: the page gets a strict policy with no inline script; /docs and /admin their own", async () => {
    const page = await t.anon("/");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    // WebAssembly may compile (the page hashes files with hash-wasm); JavaScript may not eval.
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("'unsafe-eval'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    // The page itself carries no inline script or style for the policy to allow.
    const html = await page.text();
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\bsrc="\/ui\//);
    expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
    // Every answer carries the strict policy, problems included.
    expect((await t.anon("/v1/models")).headers.get("content-security-policy")).toBe(csp);

    const docs = await t.anon("/docs/static/index.html");
    const docsCsp = docs.headers.get("content-security-policy") ?? "";
    expect(docsCsp).not.toBe(csp);
    expect(docsCsp).toContain("script-src 'self';");
    expect(docsCsp).toContain("style-src 'self' 'unsafe-inline';");

    const admin = await t.anon("/admin/queues", { headers: { authorization: "Bearer admin-key-0123456789" } });
    expect(admin.status).toBe(200);
    const adminCsp = admin.headers.get("content-security-policy") ?? "";
    expect(adminCsp).toContain("script-src 'self';");
    expect(adminCsp).not.toBe(csp);
  });

  it("/admin is limited per address (RATE_LIMIT_PER_MINUTE), with 429 problem+json", async () => {
    const auth = { headers: { authorization: "Bearer admin-key-0123456789" } };
    let status = 200;
    let sent = 0;
    // Bounded: at most the budget plus one.
    while (status === 200 && sent <= 40) {
      status = (await t.anon("/admin/queues/api/queues", auth)).status;
      sent++;
    }
    expect(status).toBe(429);
    expect(sent).toBeLessThanOrEqual(41);
    expect((await problemOf(await t.anon("/admin/queues", auth))).detail).toContain("/admin requests");
  });
});

describe("security: metrics on a separate METRICS_PORT", () => {
  let t: ApiProcess;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    t = await startApiProcess({ METRICS_PORT: String(metricsPort) });
  });
  afterAll(async () => t?.stop());

  it("serves /metrics only on the metrics listener (127.0.0.1 by default), not on the API port", async () => {
    const onApi = await problemOf(await t.anon("/metrics"));
    expect(onApi.status).toBe(404);
    expect(onApi.detail).toContain("METRICS_PORT");
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("mediaq_http_request_duration_seconds");
  });

  it("/readyz names neither the bucket nor the endpoint when storage is down", async () => {
    if (!t.infra.s3) return; // needs the embedded S3 server, which this test may stop
    await t.infra.s3.stop();
    let text = "";
    await expect
      .poll(
        async () => {
          const res = await t.anon("/readyz");
          text = await res.text();
          return res.status;
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(503);
    expect(JSON.parse(text).detail).toContain("storage");
    for (const secret of [t.infra.config.S3_BUCKET, t.infra.env.S3_ENDPOINT as string, "ECONNREFUSED"])
      expect(text).not.toContain(secret);
  });
});
