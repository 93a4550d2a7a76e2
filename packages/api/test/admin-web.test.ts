import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./helpers.ts";

describe("web page and admin dashboard", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({}, { ADMIN_KEY: "admin-secret" });
  });
  afterAll(async () => t?.stop());

  it("serves the web page, its script and the SSE parser without a key", async () => {
    const page = await t.anon("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('<script type="module" src="/ui/app.js">');
    const script = await t.anon("/ui/app.js");
    expect(script.status).toBe(200);
    expect(await script.text()).toContain('from "./batch.js"');
    // The batch view reads the event stream with the vendored parser.
    const batchView = await t.anon("/ui/batch.js");
    expect(batchView.status).toBe(200);
    expect(await batchView.text()).toContain('from "/ui/vendor/eventsource-parser.js"');
    const parser = await t.anon("/ui/vendor/eventsource-parser.js");
    expect(parser.headers.get("content-type")).toContain("javascript");
    expect(await parser.text()).toContain("createParser");
  });

  it("keeps bull-board behind the admin key", async () => {
    const denied = await t.anon("/admin/queues");
    expect(denied.status).toBe(401);
    expect(denied.headers.get("content-type")).toContain("application/problem+json");
    expect(denied.headers.get("www-authenticate")).toContain("Basic");
    const tenantKey = await t.acme("/admin/queues");
    expect(tenantKey.status).toBe(401);

    const basic = `Basic ${Buffer.from("ops:admin-secret").toString("base64")}`;
    const board = await t.anon("/admin/queues", { headers: { authorization: basic } });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain("<html");
    const queues = await t.anon("/admin/queues/api/queues", { headers: { authorization: "Bearer admin-secret" } });
    expect(queues.status).toBe(200);
    const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    // Every queue of the registry (queues.ts).
    expect(names).toEqual(["face-track", "inference", "package", "segment"]);
  });
});
