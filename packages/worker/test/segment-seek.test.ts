import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeIndexedVideo, readFrameIndex } from "../../../test/harness/media.ts";
import { FramePool } from "../src/frames/frame-pool.ts";
import { decodeAudio, decodeAudioWindow } from "../src/media/decode.ts";
import { probeVideo, type VideoInfo } from "../src/media/probe.ts";
import { type TimelineOptions, timelineFrames } from "../src/media/timeline-frames.ts";
import { sourceIndex } from "../src/media/timeline.ts";

// A segment decodes what it shows, not what precedes it (docs/architecture.md#segments).
const run = promisify(execFile);
const CPU = { decoder: "cpu", device: 0 } as const;
const GOP = 250;

/** The timeline's sources and (rgb24) frame indexes, and the frames ffmpeg decoded for them. */
async function timeline(o: Omit<TimelineOptions, "pool" | "codecs" | "format" | "label">) {
  const pool = new FramePool(o.video.width * o.video.height * 3, 4);
  const stats = { decoded: 0 };
  const got: { source: number; index: number }[] = [];
  for await (const { frame, source } of timelineFrames({
    ...o,
    label: "v",
    format: "rgb24",
    pool,
    codecs: CPU,
    stats,
  })) {
    got.push({ source, index: o.video.width >= 128 ? readFrameIndex(Buffer.from(frame), o.video.width) : -1 });
    pool.release(frame);
  }
  return { got, decoded: stats.decoded };
}

describe("a segment seeks to its range", () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-seek-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the segment for minutes 9-10 of a 10-minute item decodes at most one GOP of frames before its range", async () => {
    // 10 minutes at 25 fps, 64x36, a keyframe every 250 frames (10 s).
    await run("ffmpeg", [
      ...["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25:duration=600"],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-g", String(GOP), "-pix_fmt", "yuv420p", f("ten.mp4")],
    ]);
    const video = await probeVideo(f("ten.mp4"), "v", 1920 * 1080);
    expect(video.frames).toBe(15_000);
    const segment = { start: 13_500, count: 1500 };
    const last = await timeline({
      file: f("ten.mp4"),
      video,
      frames: "clip",
      range: segment,
      loop: "pingpong",
      bufferBytes: 1,
    });
    expect(last.got.map((g) => g.source)).toEqual(Array.from({ length: 1500 }, (_, i) => 13_500 + i));
    // The first segment decodes from 0 (no seek): what ffmpeg decodes past its last frame.
    const first = await timeline({
      file: f("ten.mp4"),
      video,
      frames: "clip",
      range: { start: 0, count: 1500 },
      loop: "pingpong",
      bufferBytes: 1,
    });
    const lookahead = first.decoded - 1500;
    expect(lookahead).toBeGreaterThanOrEqual(0);
    expect(lookahead).toBeLessThan(GOP);
    const before = last.decoded - 1500 - lookahead;
    console.log(`minutes 9-10: ${last.decoded} frames decoded for 1500 (${before} before the range)`);
    expect(before).toBeGreaterThanOrEqual(0);
    expect(before).toBeLessThanOrEqual(GOP);
  }, 120_000);

  it("a looping segment past the first pass seeks into every pass frame-exactly", async () => {
    await makeIndexedVideo(f("idx.mp4"), { seconds: 3 }); // 75 frames
    const video: VideoInfo = await probeVideo(f("idx.mp4"), "v", 1920 * 1080);
    const n = video.frames;
    const bufferBytes = 7 * video.width * video.height * 3; // not held: re-decoded in chunks
    for (const loop of ["pingpong", "forward"] as const)
      for (const range of [
        { start: 100, count: 60 },
        { start: 20, count: 200 },
        { start: 290, count: 7 },
      ]) {
        const { got } = await timeline({ file: f("idx.mp4"), video, frames: 400, range, loop, bufferBytes });
        const expected = Array.from({ length: range.count }, (_, i) => sourceIndex(range.start + i, n, loop));
        expect(
          got.map((g) => g.source),
          `${loop} ${range.start}`,
        ).toEqual(expected);
        expect(
          got.map((g) => g.index),
          `${loop} ${range.start}`,
        ).toEqual(expected);
      }
  }, 120_000);

  it("an audio window decodes exactly the samples of a whole decode", async () => {
    await makeAudio(f("a.wav"), { seconds: 30, frequency: 180 });
    await run("ffmpeg", ["-v", "error", "-y", "-i", f("a.wav"), "-c:a", "aac", f("a.m4a")]);
    for (const [file, seekable] of [
      [f("a.wav"), true],
      [f("a.m4a"), false],
    ] as const) {
      const whole = await decodeAudio(file, "a");
      for (const [from, to] of [
        [0, 8000],
        [16_000 * 12 + 77, 16_000 * 19 + 5],
        [whole.length - 9000, whole.length + 500],
      ] as const) {
        const part = await decodeAudioWindow(file, "a", { from, to, seekable });
        expect(
          Buffer.from(part.buffer, part.byteOffset, part.byteLength).equals(
            Buffer.from(whole.subarray(from, to).slice().buffer),
          ),
          `${file} [${from}, ${to})`,
        ).toBe(true);
      }
    }
  }, 60_000);
});
