import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./helpers.ts";

describe("rate limit per tenant", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({}, { RATE_LIMIT_PER_MINUTE: "5" });
  });
  afterAll(async () => t?.stop());

  it("answers 429 problem+json past the tenant's budget, and other tenants go on", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.acme("/v1/models")).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await t.acme("/v1/models");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("content-type")).toContain("application/problem+json");
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    const body = (await limited.json()) as { status: number; detail: string };
    expect(body.status).toBe(429);
    expect(body.detail).toContain("more than 5 requests in a minute");
    // Another tenant has its own budget; health checks are not limited.
    expect((await t.globex("/v1/models")).status).toBe(200);
    expect((await t.anon("/healthz")).status).toBe(200);
  });
});
