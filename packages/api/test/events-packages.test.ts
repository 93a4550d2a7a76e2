import { MAX_PRESIGN_SECONDS, objectKeys, putStream, type ResultRecord, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi } from "../src/index.ts";
import { type Call, makeItems, postJson, problemOf, startTestApi, type TestApi, uploadModel } from "./helpers.ts";

interface Submitted {
  id: string;
  items: { index: number; name: string; jobKey: string; state: string }[];
}

interface SseMessage {
  id?: string;
  data: { type: string; [k: string]: unknown };
}

/** A minimal EventSource over fetch: yields data messages, counts comment lines. */
async function openEvents(call: Call, path: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await call(path, { headers, signal: abort.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let comments = 0;
  /** The next data message; with untilComment, returns undefined at the next comment instead. */
  async function next(timeoutMs = 5000, untilComment = false): Promise<SseMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split("\n");
        const blockComments = lines.filter((l) => l.startsWith(":")).length;
        comments += blockComments;
        if (untilComment && blockComments > 0) return undefined;
        const data = lines.find((l) => l.startsWith("data: "));
        if (!data) continue;
        const id = lines.find((l) => l.startsWith("id: "))?.slice(4);
        return { ...(id ? { id } : {}), data: JSON.parse(data.slice(6)) };
      }
      if (Date.now() > deadline) throw new Error("no event in time");
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      buffer += decoder.decode(value, { stream: true });
    }
  }
  return {
    res,
    next: async (timeoutMs?: number) => (await next(timeoutMs)) as SseMessage,
    heartbeat: () => next(2000, true),
    comments: () => comments,
    close: () => abort.abort(),
  };
}

function resultFor(jobKey: string, bytes: string): ResultRecord {
  return {
    jobKey,
    key: objectKeys.output(jobKey, "output.mp4"),
    sha256: sha256Hex(bytes),
    size: bytes.length,
    model: "m",
    adapter: "wav2lip",
    inputs: { video: "0".repeat(64), audio: "0".repeat(64) },
    params: {},
    completedAt: new Date().toISOString(),
  };
}

describe("events and packages", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await uploadModel(t.acme, "wav2lip@test");
  });
  afterAll(async () => t?.stop());

  async function submit(n: number, prefix: string): Promise<Submitted> {
    const items = await makeItems(t.acme, n, prefix);
    const res = await postJson(t.acme, "/v1/batches", { model: "wav2lip@test", items });
    expect(res.status).toBe(201);
    return (await res.json()) as Submitted;
  }

  it("streams ledger transitions as SSE and resumes from Last-Event-ID without gaps", async () => {
    const batch = await submit(2, "sse");
    const [k0, k1] = batch.items.map((i) => i.jobKey) as [string, string];
    const clientsBefore = ((await t.redis.client("LIST")) as string).trim().split("\n").length;

    const first = await openEvents(t.acme, `/v1/batches/${batch.id}/events`);
    expect(first.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const snapshot = await first.next();
    expect(snapshot.data).toMatchObject({ type: "snapshot", total: 2, counts: { pending: 2 } });
    expect(snapshot.id).toBeUndefined();
    // Clients share the process's one event reader: more streams open no more connections.
    const more = await Promise.all([1, 2, 3, 4].map(() => openEvents(t.acme, `/v1/batches/${batch.id}/events`)));
    for (const m of more) await m.next();
    expect(((await t.redis.client("LIST")) as string).trim().split("\n").length).toBeLessThanOrEqual(clientsBefore + 1);

    await t.ledger.jobs.transition(k0, "running");
    const running = await first.next();
    expect(running.data).toEqual({ type: "item", jobKey: k0, state: "running" });
    expect(running.id).toMatch(/^\d+-\d+$/);
    for (const m of more) expect(await m.next()).toEqual(running);
    for (const m of more) m.close();
    // Idle: heartbeat comments keep the stream open.
    expect(await first.heartbeat()).toBeUndefined();
    expect(first.comments()).toBeGreaterThan(0);
    first.close();

    // While no one listens, more happens.
    await t.ledger.jobs.recordResult(resultFor(k0, "zero"));
    await t.ledger.jobs.transition(k1, "running");
    await t.ledger.jobs.transition(k1, "failed", "bad audio");

    const resumed = await openEvents(t.acme, `/v1/batches/${batch.id}/events`, {
      "last-event-id": running.id as string,
    });
    const missed = [await resumed.next(), await resumed.next(), await resumed.next()];
    expect(missed.map((m) => m.data)).toEqual([
      { type: "item", jobKey: k0, state: "succeeded" },
      { type: "item", jobKey: k1, state: "running" },
      { type: "item", jobKey: k1, state: "failed", error: "bad audio" },
    ]);
    resumed.close();

    const byQuery = await openEvents(t.acme, `/v1/batches/${batch.id}/events?lastEventId=${running.id}`);
    expect((await byQuery.next()).id).toBe(missed[0]?.id);
    byQuery.close();

    const bad = await problemOf(await t.acme(`/v1/batches/${batch.id}/events`, { headers: { "last-event-id": "x" } }));
    expect(bad.status).toBe(400);
  });

  it("ends open event streams when the server closes", async () => {
    const batch = await submit(1, "close");
    const other = await startApi(t.infra.config, { sseHeartbeatMs: 60_000 });
    const res = await fetch(`${other.url}/v1/batches/${batch.id}/events`, {
      headers: { authorization: "Bearer key-acme" },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the stream is open
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(3000);
    let ended = false;
    while (!ended) ended = (await reader.read()).done;
    expect(ended).toBe(true);
  });

  it("queues a package for the succeeded items and serves it with presigned links", async () => {
    const batch = await submit(3, "pkg");
    const empty = await problemOf(await postJson(t.acme, `/v1/batches/${batch.id}/packages`, {}));
    expect(empty.status).toBe(409);

    for (const item of batch.items.slice(0, 2)) {
      await t.ledger.jobs.transition(item.jobKey, "running");
      await t.ledger.jobs.recordResult(resultFor(item.jobKey, item.name));
    }
    const res = await postJson(t.acme, `/v1/batches/${batch.id}/packages`, { expiresIn: 3600 });
    expect(res.status).toBe(202);
    const pkg = (await res.json()) as { id: string; state: string };
    expect(pkg.state).toBe("queued");
    const jobs = await t.api.deps.packageQueue.getJobs(["waiting"]);
    expect(jobs.filter((j) => j.data.packageId === pkg.id)).toHaveLength(1);

    // Same results, same part size: the same package. Another part size: another one.
    const again = (await (await postJson(t.acme, `/v1/batches/${batch.id}/packages`, {})).json()) as { id: string };
    expect(again.id).toBe(pkg.id);
    const smaller = (await (
      await postJson(t.acme, `/v1/batches/${batch.id}/packages`, { partSize: 1024 * 1024 })
    ).json()) as { id: string };
    expect(smaller.id).not.toBe(pkg.id);

    const tooLong = await problemOf(
      await postJson(t.acme, `/v1/batches/${batch.id}/packages`, { expiresIn: MAX_PRESIGN_SECONDS + 1 }),
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.detail).toContain("body.expiresIn");
    expect((await postJson(t.acme, `/v1/batches/${batch.id}/packages`, { partSize: 100 })).status).toBe(400);

    const queued = await (await t.acme(`/v1/packages/${pkg.id}`)).json();
    expect(queued).toMatchObject({ id: pkg.id, state: "queued", batchId: batch.id, parts: [], manifest: null });
    expect((await problemOf(await t.globex(`/v1/packages/${pkg.id}`))).status).toBe(404);

    // The packager, simulated: writes a part and the record.
    const bucket = t.infra.config.S3_BUCKET;
    const partKey = objectKeys.packageObject(pkg.id, "pkg-part-001.zip");
    await putStream(t.api.deps.s3, { bucket, key: partKey, body: Buffer.from("zip bytes") });
    await putStream(t.api.deps.s3, { bucket, key: objectKeys.packageObject(pkg.id, "manifest.json"), body: "{}" });
    await t.packages.update(pkg.id, {
      state: "ready",
      parts: [{ name: "pkg-part-001.zip", key: partKey, size: 9, sha256: sha256Hex("zip bytes"), items: [0, 1] }],
      manifestKey: objectKeys.packageObject(pkg.id, "manifest.json"),
      bytesWritten: 9,
      totalBytes: 9,
    });
    const ready = (await (await t.acme(`/v1/packages/${pkg.id}`)).json()) as {
      state: string;
      parts: { name: string; url: string; sha256: string }[];
      manifest: { url: string };
      sha256sums: null;
      expiresAt: string;
    };
    expect(ready.state).toBe("ready");
    expect(Date.parse(ready.expiresAt) - Date.now()).toBeLessThanOrEqual(3600 * 1000);
    const download = await fetch(ready.parts[0]?.url as string);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("zip bytes");
    expect(download.headers.get("content-disposition")).toContain("pkg-part-001.zip");
    expect(await (await fetch(ready.manifest.url)).text()).toBe("{}");
    expect(ready.sha256sums).toBeNull();
  });
});
