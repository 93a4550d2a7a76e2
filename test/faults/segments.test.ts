import fs from "node:fs";
import path from "node:path";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createSegmentQueue, objectKeys, putStream, redisKeys } from "@mediaq/shared";
import { startApi } from "../../packages/api/src/index.ts";
import { afterAll, describe, expect, it } from "vitest";
import { frameHashes, probeStitched, stitchProblems } from "../harness/stitched.ts";
import { type FaultStack, startFaultStack, TENANT, until } from "./helpers.ts";

// A long item is cut into segments, each its own job on whichever worker is free, then
// stitched (docs/architecture.md#segments). 12 s at 25 fps with SEGMENT_SECONDS=2: 6 segments.
// "Identical in frames": both runs encode losslessly (VIDEO_LOSSLESS), so the decoded frames
// are exactly the frames the frame path produced, and the two runs are compared on those.
// At the default CRF 18 a stitched output differs from one long encode (each piece starts
// its own GOP and rate control), so lossy outputs cannot match bit for bit.
const SECONDS = 12;
const FPS = 25;
const ITEM = { name: "long.mp4", params: { box: [20, 20, 48, 48] } };
// The same inputs as long as the video: one pass over the clip, so each segment seeks to its
// range (the first item's clip is held from one decode and looped from memory).
const VIDEO_ITEM = { name: "long-video.mp4", params: { box: [20, 20, 48, 48], length: "video" } };

async function outputsOf(stack: FaultStack, jobKey: string): Promise<string[]> {
  const listed = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.infra.config.S3_BUCKET, Prefix: objectKeys.jobOutputsPrefix(jobKey) }),
  );
  return (listed.Contents ?? []).map((o) => o.Key as string);
}

describe("segments of a long item", () => {
  const stacks: FaultStack[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.stop();
  });

  it("runs one item's segments on two workers, stitches them, and matches an unsegmented run frame for frame", async () => {
    const env = { VIDEO_LOSSLESS: "true" };
    const seg = await startFaultStack({
      seconds: SECONDS,
      videos: 1,
      audios: 1,
      env: { ...env, SEGMENT_SECONDS: "2" },
    });
    stacks.push(seg);
    await Promise.all([seg.spawnWorker("a"), seg.spawnWorker("b")]);
    const { batchId, items } = await seg.submit([ITEM, VIDEO_ITEM]);
    const jobKey = items[0]?.jobKey as string;
    const videoKey = items[1]?.jobKey as string;
    expect(await seg.waitDone(batchId, 90_000)).toMatchObject({ succeeded: 2, failed: 0 });
    await seg.verifyOutputs(batchId);

    // Both worker processes ran segments of this item (each keeps its own inference spans).
    const spanKeys = await seg.redis.keys(`${redisKeys.inferenceSpans("")}*`);
    const workersWithSpans = [];
    for (const key of spanKeys) {
      const spans = (await seg.redis.lrange(key, 0, -1)).map((s) => JSON.parse(s) as { jobKey: string });
      if (spans.some((s) => s.jobKey === jobKey)) workersWithSpans.push(key);
    }
    expect(workersWithSpans).toHaveLength(2);
    const runs = await seg.ledger.segments.runs(jobKey);
    expect([...runs.keys()].sort()).toEqual(["0-50", "100-150", "150-200", "200-250", "250-300", "50-100"]);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);

    // One bar for the item: its infer progress adds up the segments' frames to the item's total.
    const infer = (await seg.ledger.events.range(batchId, "0-0", "+", 10_000))
      .map((e) => e.event)
      .filter((e) => e.type === "progress" && e.jobKey === jobKey && e.stage === "infer");
    expect(infer.length).toBeGreaterThan(0);
    expect(infer.every((e) => e.type === "progress" && e.total === SECONDS * FPS)).toBe(true);
    expect(Math.max(...infer.map((e) => (e.type === "progress" ? e.done : 0)))).toBe(SECONDS * FPS);

    // The stitched output passes the ffprobe checks; the pieces were swept.
    const result = await seg.ledger.jobs.getResult(jobKey);
    const stitched = await seg.download(result?.key as string, path.join(seg.infra.dir, "stitched.mp4"));
    expect(stitchProblems(await probeStitched(stitched), SECONDS * FPS, FPS)).toEqual([]);
    const left = await outputsOf(seg, jobKey);
    expect(left.length).toBeGreaterThan(0);
    expect(left.filter((k) => k.includes("segment-"))).toEqual([]);

    // The same item, same input bytes, in one job on a stack of its own.
    const whole = await startFaultStack({ seconds: 1, videos: 1, audios: 1, env });
    stacks.push(whole);
    for (const [kind, sha] of [
      ["video", seg.videos[0]],
      ["audio", seg.audios[0]],
    ] as const) {
      const file = await seg.download(objectKeys.blob(sha as string), path.join(seg.infra.dir, `${kind}.bin`));
      await putStream(whole.s3, {
        bucket: whole.infra.config.S3_BUCKET,
        key: objectKeys.blob(sha as string),
        body: fs.readFileSync(file),
      });
      (kind === "video" ? whole.videos : whole.audios)[0] = sha as string;
    }
    await whole.spawnWorker("whole");
    const single = await whole.submit([ITEM, VIDEO_ITEM]);
    expect(single.items.map((i) => i.jobKey)).toEqual([jobKey, videoKey]);
    expect(await whole.waitDone(single.batchId, 90_000)).toMatchObject({ succeeded: 2 });
    for (const key of [jobKey, videoKey]) {
      expect(await whole.ledger.segments.runs(key)).toEqual(new Map()); // not segmented
      const wholeResult = await whole.ledger.jobs.getResult(key);
      const unsegmented = await whole.download(
        wholeResult?.key as string,
        path.join(seg.infra.dir, `whole-${key}.mp4`),
      );
      const segResult = await seg.ledger.jobs.getResult(key);
      const segmented = await seg.download(segResult?.key as string, path.join(seg.infra.dir, `seg-${key}.mp4`));
      const [a, b] = await Promise.all([frameHashes(segmented), frameHashes(unsegmented)]);
      expect(a).toHaveLength(SECONDS * FPS);
      expect(a).toEqual(b);
    }
    // Each seeking segment decoded at most a GOP (250 frames here) besides its own frames.
    const pieces = [...(await seg.ledger.segments.pieces(videoKey)).values()];
    expect(pieces).toHaveLength(6);
    for (const piece of pieces) expect((piece.decoded ?? 0) - piece.count).toBeLessThanOrEqual(250);
  }, 240_000); // two stacks, each with its own 90 s waits: they, not vitest's default, must say what hung

  it("fails the item with a segment's bad-input reason and deletes the pieces it made", async () => {
    const stack = await startFaultStack({ seconds: SECONDS, videos: 1, audios: 1, env: { SEGMENT_SECONDS: "2" } });
    stacks.push(stack);
    // One face per model call: segments take long enough to act between them. No input
    // cache: each segment fetches its inputs (a worker that holds them fetches nothing).
    await stack.spawnWorker("a", { INFERENCE_BATCH_SIZE: "1", INPUT_CACHE_BYTES: "0" });
    const { batchId, items } = await stack.submit([ITEM]);
    const jobKey = items[0]?.jobKey as string;
    await until("a piece recorded", async () => (await stack.ledger.segments.pieces(jobKey)).size >= 1, 60_000);
    expect((await outputsOf(stack, jobKey)).some((k) => k.includes("segment-"))).toBe(true);
    // The video blob disappears: the next segment's fetch is bad input (it will never appear by retrying).
    await stack.s3.send(
      new DeleteObjectCommand({
        Bucket: stack.infra.config.S3_BUCKET,
        Key: objectKeys.blob(stack.videos[0] as string),
      }),
    );
    expect(await stack.waitDone(batchId, 60_000)).toMatchObject({ succeeded: 0, failed: 1 });
    const state = await stack.ledger.jobs.state(jobKey);
    expect(state.state).toBe("failed");
    expect(state.error).toMatch(/video input .* does not exist; upload it first/);
    // The item's job failed with its segment; its pieces are gone and forgotten.
    // (The ledger moves first; BullMQ fails the child, then its parent, a moment later.)
    await until(
      "the item's job failed",
      async () => (await (await stack.queue.getJob(jobKey))?.getState()) === "failed",
    );
    await until("pieces deleted", async () => (await outputsOf(stack, jobKey)).length === 0, 10_000);
    expect((await stack.ledger.segments.pieces(jobKey)).size).toBe(0);
    // The segments still queued did not run.
    const runs = [...(await stack.ledger.segments.runs(jobKey)).values()].reduce((a, b) => a + b, 0);
    expect(runs).toBeLessThan(6);
  });

  it("cancelling the batch withdraws the long item's queued segments and deletes its pieces", async () => {
    const stack = await startFaultStack({ seconds: SECONDS, videos: 1, audios: 1, env: { SEGMENT_SECONDS: "2" } });
    stacks.push(stack);
    const api = await startApi({
      ...stack.infra.config,
      API_KEYS: `${TENANT}:key-cancel-test`,
      API_HOST: "127.0.0.1",
      API_PORT: 0,
    });
    const segments = createSegmentQueue(stack.redis, stack.infra.config);
    try {
      // One face per model call: segments take long enough to cancel between them.
      await stack.spawnWorker("a", { INFERENCE_BATCH_SIZE: "1" });
      const { batchId, items } = await stack.submit([ITEM]);
      const jobKey = items[0]?.jobKey as string;
      await until("a piece recorded", async () => (await stack.ledger.segments.pieces(jobKey)).size >= 1, 60_000);
      expect((await stack.ledger.jobs.state(jobKey)).state).toBe("running");

      const res = await fetch(`${api.url}/v1/batches/${batchId}`, {
        method: "DELETE",
        headers: { authorization: "Bearer key-cancel-test" },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ cancelled: 1 });

      // The queued segments are gone; one a worker ran finishes, then the item's job skips.
      await until("the item's segments drained", async () => {
        const left = await segments.getJobCounts("waiting", "prioritized", "delayed", "active");
        const item = await stack.queue.getJob(jobKey);
        const itemState = item ? await item.getState() : "removed";
        return Object.values(left).every((n) => n === 0) && ["removed", "completed"].includes(itemState);
      });
      await until("the pieces deleted", async () => (await outputsOf(stack, jobKey)).length === 0, 10_000);
      expect((await stack.ledger.segments.pieces(jobKey)).size).toBe(0);
      const runs = [...(await stack.ledger.segments.runs(jobKey)).values()].reduce((a, b) => a + b, 0);
      expect(runs).toBeGreaterThanOrEqual(1);
      expect(runs).toBeLessThan(6);
      expect(await stack.ledger.batches.counts(batchId)).toMatchObject({ pending: 0, running: 0, succeeded: 0 });
      const [view] = await stack.ledger.batches.itemViews(batchId, 0, 1);
      expect(view?.state).toBe("cancelled");
    } finally {
      await segments.close();
      await api.close();
    }
  });
});
