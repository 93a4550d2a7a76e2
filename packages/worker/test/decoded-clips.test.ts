import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIndexedVideo } from "../../../test/harness/media.ts";
import { DecodedClips } from "../src/decoded-clips.ts";
import { FramePool } from "../src/frames/frame-pool.ts";
import { InputCache, inputsRoot } from "../src/input-cache.ts";
import { probeVideo, type VideoInfo } from "../src/media/probe.ts";
import { type TimelineOptions, timelineFrames } from "../src/media/timeline-frames.ts";

// A short clip decoded again is recorded; later decodes read its frames back (docs/architecture.md#probes-audio-and-decoded-clips).
const CPU = { decoder: "cpu", device: 0 } as const;
const BLOB = "c".repeat(64);

describe("decoded clips", () => {
  let dir: string;
  let video: VideoInfo;
  const f = (n: string) => path.join(dir, n);
  const frameBytes = () => (video.width * video.height * 3) / 2;
  const recordings = () => fs.readdirSync(inputsRoot(f("cache"))).sort();

  /** The timeline's frames as hashes, with their sources, and the frames ffmpeg decoded for them. */
  async function run(o: Partial<Omit<TimelineOptions, "clips">> & { clips?: DecodedClips; stopAfter?: number }) {
    const pool = new FramePool(frameBytes(), 3);
    const stats = { decoded: 0 };
    const got: string[] = [];
    for await (const { frame, source } of timelineFrames({
      file: f("v.mp4"),
      label: "v",
      video,
      format: "yuv420p",
      frames: "clip",
      loop: "pingpong",
      bufferBytes: 4 * frameBytes(),
      pool,
      codecs: CPU,
      stats,
      ...o,
      clips: o.clips && { cache: o.clips, blob: BLOB },
    })) {
      got.push(`${source}:${createHash("sha256").update(frame).digest("hex").slice(0, 16)}`);
      frame.fill(7); // the consumer draws into its frames: the recording must not see that
      pool.release(frame);
      if (got.length === o.stopAfter) break;
    }
    return { got, decoded: stats.decoded };
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-clips-"));
    await makeIndexedVideo(f("v.mp4"), { seconds: 2 }); // 50 frames, 160x120
    video = await probeVideo(f("v.mp4"), "v", 1920 * 1080);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("records a clip's second whole decode and serves every later one from it, frame for frame", async () => {
    const clips = new DecodedClips(f("cache"), 100 * frameBytes());
    const fresh = await run({});
    expect(fresh.got).toHaveLength(50);
    expect(fresh.decoded).toBe(50);

    // A clip decoded once (a batch with a clip per item) writes nothing.
    expect(await run({ clips })).toEqual(fresh);
    const none = () => (fs.existsSync(inputsRoot(f("cache"))) ? recordings() : []);
    expect(none()).toEqual([]);

    // A decode stopped early is not kept, nor its partial file.
    const stopped = await run({ clips, stopAfter: 5 });
    expect(stopped.got).toEqual(fresh.got.slice(0, 5));
    expect(none()).toEqual([]);

    const first = await run({ clips });
    expect(first).toEqual(fresh);
    expect(recordings()).toEqual([`${BLOB}.yuv420p.cpu.v2.frames`]);
    expect(fs.statSync(path.join(inputsRoot(f("cache")), recordings()[0] as string)).size).toBe(50 * frameBytes());

    const again = await run({ clips });
    expect(again.got).toEqual(fresh.got);
    expect(again.decoded).toBe(0);

    // A range (a segment) and a ping-pong loop longer than the loop buffer (re-reads,
    // backward chunks) read the same frames from the recording that ffmpeg decodes.
    for (const o of [
      { range: { start: 20, count: 10 } },
      { frames: 173, bufferBytes: 4 * frameBytes() },
      { frames: 173, range: { start: 60, count: 90 } },
    ]) {
      const decoded = await run(o);
      const read = await run({ ...o, clips });
      expect(read.got, JSON.stringify(o)).toEqual(decoded.got);
      expect(decoded.decoded, JSON.stringify(o)).toBeGreaterThan(0);
      expect(read.decoded, JSON.stringify(o)).toBe(0);
    }
  });

  it("does not record a clip bigger than its bound, and the input cache's sweep trims recordings", async () => {
    fs.rmSync(f("cache"), { recursive: true, force: true });
    const small = new DecodedClips(f("cache"), 49 * frameBytes());
    for (let i = 0; i < 3; i++) expect((await run({ clips: small })).decoded).toBe(50);
    expect(fs.existsSync(inputsRoot(f("cache"))) ? recordings() : []).toEqual([]);

    const clips = new DecodedClips(f("cache"), 50 * frameBytes());
    await run({ clips });
    await run({ clips });
    expect(recordings()).toHaveLength(1);
    const swept = await new InputCache(f("cache"), frameBytes()).sweep(3600);
    expect(swept).toEqual({ removed: 1, freedBytes: 50 * frameBytes() });
    expect(recordings()).toEqual([]);
    expect((await run({ clips })).decoded).toBe(50);
  });
});
