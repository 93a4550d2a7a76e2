import { OUTPUT_FILE, objectKeys, type ResultRecord, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeItems,
  postJson,
  problemOf,
  putBlob,
  randomBlob,
  startTestApi,
  type TestApi,
  uploadModel,
} from "./helpers.ts";

interface Submitted {
  id: string;
  total: number;
  counts: Record<string, number>;
  items: { index: number; name: string; jobKey: string; state: string }[];
}

function resultFor(jobKey: string, bytes: Buffer): ResultRecord {
  return {
    jobKey,
    key: objectKeys.output(jobKey, OUTPUT_FILE),
    sha256: sha256Hex(bytes),
    size: bytes.length,
    model: "m",
    adapter: "wav2lip",
    inputs: { video: "0".repeat(64), audio: "0".repeat(64) },
    params: {},
    completedAt: new Date().toISOString(),
  };
}

describe("batches", () => {
  let t: TestApi;
  let model: string;
  beforeAll(async () => {
    t = await startTestApi();
    model = await uploadModel(t.acme, "wav2lip@test");
  });
  afterAll(async () => t?.stop());

  it("names every missing blob and the items using them", async () => {
    const [ok] = await makeItems(t.acme, 1);
    const missing = sha256Hex("never uploaded");
    // A blob of another tenant is as unknown as one never uploaded.
    const foreign = await putBlob(t.globex, randomBlob());
    const res = await postJson(t.acme, "/v1/batches", {
      model: "wav2lip@test",
      items: [ok, { name: "bad.mp4", inputs: { video: missing, audio: foreign } }],
    });
    const problem = await problemOf(res);
    expect(problem.status).toBe(400);
    expect(problem.missing).toEqual(expect.arrayContaining([missing, foreign]));
    expect(problem.items).toEqual(["bad.mp4"]);
    expect(problem.detail).toContain(missing);
  });

  it("rejects duplicate names, unknown models, empty items, bad params and malformed bodies", async () => {
    const [a, b] = await makeItems(t.acme, 2);
    const dup = await problemOf(
      await postJson(t.acme, "/v1/batches", { model: "wav2lip@test", items: [a, { ...b, name: a?.name }] }),
    );
    expect(dup.status).toBe(400);
    expect(dup.detail).toContain(a?.name);

    const unknown = await problemOf(await postJson(t.acme, "/v1/batches", { model: "nope@1", items: [a] }));
    expect(unknown.status).toBe(400);
    expect(unknown.detail).toContain('"nope@1"');
    expect(unknown.detail).toContain("wav2lip@test");
    // Models are per tenant too.
    expect((await postJson(t.globex, "/v1/batches", { model: "wav2lip@test", items: [a] })).status).toBe(400);

    const empty = await problemOf(await postJson(t.acme, "/v1/batches", { model: "wav2lip@test", items: [] }));
    expect(empty.detail).toContain("body.items");

    const badParams = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "wav2lip@test",
        items: [a, { ...b, params: { box: [0, 0, -5, 10] } }],
      }),
    );
    expect(badParams.status).toBe(400);
    expect(badParams.detail).toContain(`items[1] "${b?.name}": params.box`);
    const unknownParam = await problemOf(
      await postJson(t.acme, "/v1/batches", { model: "wav2lip@test", items: [a], params: { colour: "red" } }),
    );
    expect(unknownParam.detail).toContain("colour");

    const malformed = await problemOf(
      await t.acme("/v1/batches", {
        method: "POST",
        body: "{not json",
        headers: { "content-type": "application/json" },
      }),
    );
    expect(malformed.status).toBe(400);
    const wrongShape = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "wav2lip@test",
        items: [{ name: "x", inputs: { video: "abc" } }],
      }),
    );
    expect(wrongShape.detail).toContain("body.items[0].inputs.video");
  });

  it("queues one BullMQ job per job key, dedups across batches, and marks recorded results succeeded", async () => {
    const items = await makeItems(t.acme, 3, "dedup");
    const first = await postJson(t.acme, "/v1/batches", {
      model,
      items,
      params: { box: [10, 10, 50, 50] },
    });
    expect(first.status).toBe(201);
    const a = (await first.json()) as Submitted;
    expect(a.total).toBe(3);
    expect(a.counts).toEqual({ pending: 3, running: 0, succeeded: 0, failed: 0 });
    expect(a.items.map((i) => i.index)).toEqual([0, 1, 2]);
    for (const item of a.items) {
      const job = await t.api.deps.inferenceQueue.getJob(item.jobKey);
      expect(job?.id).toBe(item.jobKey);
      expect(job?.data.params).toMatchObject({
        box: [10, 10, 50, 50],
        pads: [0, 10, 0, 0],
        length: "audio",
        loop: "pingpong",
      });
      expect(job?.data.model.channels).toBe("bgr"); // the model's registered order travels with the job
      expect(job?.data.tenant).toBe("acme");
    }
    const waitingBefore = (await t.api.deps.inferenceQueue.getJobCounts("waiting")).waiting;

    // Same items, same params in a new batch (the tag or the hash name the same model).
    const b = (await (
      await postJson(t.acme, "/v1/batches", { model: "wav2lip@test", items, params: { box: [10, 10, 50, 50] } })
    ).json()) as Submitted;
    expect(b.id).not.toBe(a.id);
    expect(b.items.map((i) => i.jobKey)).toEqual(a.items.map((i) => i.jobKey));
    expect((await t.api.deps.inferenceQueue.getJobCounts("waiting")).waiting).toBe(waitingBefore);

    // Other params mean other work.
    const c = (await (
      await postJson(t.acme, "/v1/batches", { model, items: [{ ...items[0], params: { box: [0, 0, 8, 8] } }] })
    ).json()) as Submitted;
    expect(c.items[0]?.jobKey).not.toBe(a.items[0]?.jobKey);

    // The worker, simulated through the real ledger: one item runs and succeeds.
    const done = a.items[0]?.jobKey as string;
    await t.ledger.jobs.transition(done, "running");
    await t.ledger.jobs.recordResult(resultFor(done, Buffer.from("out")));
    for (const id of [a.id, b.id]) {
      const status = (await (await t.acme(`/v1/batches/${id}`)).json()) as { counts: Record<string, number> };
      expect(status.counts).toEqual({ pending: 2, running: 0, succeeded: 1, failed: 0 });
    }
    // A third batch with that item is succeeded at once and queues nothing for it.
    await (await t.api.deps.inferenceQueue.getJob(done))?.remove();
    const d = (await (
      await postJson(t.acme, "/v1/batches", { model, items: [items[0]], params: { box: [10, 10, 50, 50] } })
    ).json()) as Submitted;
    expect(d.items[0]?.state).toBe("succeeded");
    expect(await t.api.deps.inferenceQueue.getJob(done)).toBeUndefined();
    const status = await (await t.acme(`/v1/batches/${d.id}`)).json();
    expect(status).toMatchObject({ id: d.id, total: 1, done: true, model, counts: { succeeded: 1 } });
  });

  it("returns the same batch for a repeated Idempotency-Key", async () => {
    const items = await makeItems(t.acme, 2, "idem");
    const body = { model: "wav2lip@test", items };
    const first = await postJson(t.acme, "/v1/batches", body, { "idempotency-key": "order-42" });
    expect(first.status).toBe(201);
    const again = await postJson(t.acme, "/v1/batches", body, { "idempotency-key": "order-42" });
    expect(again.status).toBe(200);
    const [a, b] = [(await first.json()) as Submitted, (await again.json()) as Submitted];
    expect(b.id).toBe(a.id);
    expect(b.items).toEqual(a.items);
    // Keys are per tenant.
    const globexItems = await makeItems(t.globex, 1, "idem");
    await uploadModel(t.globex, "wav2lip@test");
    const other = await postJson(
      t.globex,
      "/v1/batches",
      { model: "wav2lip@test", items: globexItems },
      { "idempotency-key": "order-42" },
    );
    expect(other.status).toBe(201);
    expect(((await other.json()) as Submitted).id).not.toBe(a.id);
  });

  it("pages items by cursor, filters by state, appends with unique names", async () => {
    const items = await makeItems(t.acme, 5, "page");
    const batch = (await (
      await postJson(t.acme, "/v1/batches", { model, items: items.slice(0, 4) })
    ).json()) as Submitted;
    const appended = await postJson(t.acme, `/v1/batches/${batch.id}/items`, { items: [items[4]] });
    expect(appended.status).toBe(201);
    expect(((await appended.json()) as Submitted).items[0]).toMatchObject({ index: 4, name: "page-4.mp4" });
    const dupe = await problemOf(await postJson(t.acme, `/v1/batches/${batch.id}/items`, { items: [items[1]] }));
    expect(dupe.status).toBe(400);
    expect(dupe.detail).toContain("page-1.mp4");

    const seen: string[] = [];
    let cursor: string | null = "0";
    while (cursor !== null) {
      const page = (await (await t.acme(`/v1/batches/${batch.id}/items?limit=2&cursor=${cursor}`)).json()) as {
        items: { name: string }[];
        nextCursor: string | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(items.map((i) => i.name));

    const key = batch.items[2]?.jobKey as string;
    await t.ledger.jobs.transition(key, "running");
    await t.ledger.jobs.recordResult(resultFor(key, Buffer.from("two")));
    const succeeded = (await (await t.acme(`/v1/batches/${batch.id}/items?state=succeeded`)).json()) as {
      items: { name: string; output?: { sha256: string } }[];
      nextCursor: string | null;
    };
    expect(succeeded.items.map((i) => i.name)).toEqual(["page-2.mp4"]);
    expect(succeeded.items[0]?.output?.sha256).toBe(sha256Hex("two"));
    expect(succeeded.nextCursor).toBeNull();
    const badCursor = await problemOf(await t.acme(`/v1/batches/${batch.id}/items?cursor=abc`));
    expect(badCursor.detail).toContain("querystring.cursor");
  });

  it("retries failed items, cancels waiting ones, lists batches newest first", async () => {
    const items = await makeItems(t.acme, 3, "ops");
    const batch = (await (await postJson(t.acme, "/v1/batches", { model, items })).json()) as Submitted;
    const [k0, k1, k2] = batch.items.map((i) => i.jobKey) as [string, string, string];
    await t.ledger.jobs.transition(k0, "running");
    await t.ledger.jobs.transition(k0, "failed", "decoder exploded");
    const failed = (await (await t.acme(`/v1/batches/${batch.id}/items?state=failed`)).json()) as {
      items: { error?: string }[];
    };
    expect(failed.items[0]?.error).toBe("decoder exploded");

    const retry = await postJson(t.acme, `/v1/batches/${batch.id}/retry`, {});
    expect(await retry.json()).toEqual({ retried: 1 });
    expect((await t.ledger.jobs.state(k0)).state).toBe("pending");
    expect(await t.api.deps.inferenceQueue.getJob(k0)).toBeDefined();
    expect(await (await postJson(t.acme, `/v1/batches/${batch.id}/retry`, {})).json()).toEqual({ retried: 0 });

    // k1 is also wanted by another batch: cancelling keeps its job; k0 and k2 go.
    const other = (await (await postJson(t.acme, "/v1/batches", { model, items: [items[1]] })).json()) as Submitted;
    expect(other.items[0]?.jobKey).toBe(k1);
    const cancel = await t.acme(`/v1/batches/${batch.id}`, { method: "DELETE" });
    expect(await cancel.json()).toEqual({ cancelled: 3 });
    expect(await t.api.deps.inferenceQueue.getJob(k0)).toBeUndefined();
    expect(await t.api.deps.inferenceQueue.getJob(k2)).toBeUndefined();
    expect(await t.api.deps.inferenceQueue.getJob(k1)).toBeDefined();
    const status = await (await t.acme(`/v1/batches/${batch.id}`)).json();
    expect(status).toMatchObject({ done: true, cancelled: 3, counts: { pending: 0 } });
    expect(await (await t.acme(`/v1/batches/${batch.id}`, { method: "DELETE" })).json()).toEqual({ cancelled: 0 });
    expect((await (await t.acme(`/v1/batches/${other.id}`)).json()) as object).toMatchObject({
      counts: { pending: 1 },
    });

    // Submitting a cancelled item again queues its job again.
    const again = (await (await postJson(t.acme, "/v1/batches", { model, items: [items[2]] })).json()) as Submitted;
    expect(again.items[0]?.jobKey).toBe(k2);
    expect(await t.api.deps.inferenceQueue.getJob(k2)).toBeDefined();

    const list = (await (await t.acme("/v1/batches?limit=3")).json()) as { batches: { id: string }[] };
    expect(list.batches.map((b) => b.id)[0]).toBe(again.id);
    expect(list.batches).toHaveLength(3);
  });

  it("hides other tenants' batches behind 404", async () => {
    const [item] = await makeItems(t.acme, 1, "iso");
    const batch = (await (await postJson(t.acme, "/v1/batches", { model, items: [item] })).json()) as Submitted;
    for (const res of [
      await t.globex(`/v1/batches/${batch.id}`),
      await t.globex(`/v1/batches/${batch.id}/items`),
      await postJson(t.globex, `/v1/batches/${batch.id}/retry`, {}),
      await t.globex(`/v1/batches/${batch.id}`, { method: "DELETE" }),
      await postJson(t.globex, `/v1/batches/${batch.id}/packages`, {}),
      await t.globex(`/v1/batches/${batch.id}/events`),
    ])
      expect((await problemOf(res)).status).toBe(404);
    const list = (await (await t.globex("/v1/batches")).json()) as { batches: { id: string }[] };
    expect(list.batches.map((b) => b.id)).not.toContain(batch.id);
  });
});
