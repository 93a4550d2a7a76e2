import { createRedis } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfra, type TestInfra } from "../../../test/harness/infra.ts";
import { startApi } from "../src/index.ts";

describe("Redis durability guard", () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startInfra({ env: { API_HOST: "127.0.0.1", API_PORT: "0", API_KEYS: "acme:k" } });
  });
  afterAll(async () => infra?.stop());

  it("refuses to start against a Redis that may evict keys, naming the setting", async () => {
    const redis = createRedis(infra.config);
    await redis.config("SET", "maxmemory-policy", "allkeys-lru");
    await expect(startApi(infra.config)).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/s);

    await redis.config("SET", "maxmemory-policy", "noeviction");
    const api = await startApi(infra.config);
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    await api.close();
    await redis.quit();
  });
});
