import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeAll,
  makeIndexedVideo,
  makeMirroredVideo,
  makeRotatedVideo,
  markerAt,
  readFrameIndex,
  ROTATION_MARKERS,
} from "../../../test/harness/media.ts";
import { FramePool } from "../src/frames/frame-pool.ts";
import { decodeFrames, type FrameRange } from "../src/media/decode.ts";
import { probeVideo, type VideoInfo } from "../src/media/probe.ts";
import { timelineFrames } from "../src/media/timeline-frames.ts";
import { sourceIndex } from "../src/media/timeline.ts";

const run = promisify(execFile);
const PIXELS = 1920 * 1080;

const CPU = { decoder: "cpu", device: 0 } as const;
const poolFor = (video: VideoInfo) => new FramePool(video.width * video.height * 3, 4);

// rgb24 here: the frame index is read from the pixels (the frame path's yuv420p decode is the same code).

/** Every decoded frame, copied out of the frame pool (whose buffers go back to it). */
async function decodePooled(file: string, video: VideoInfo, range?: FrameRange): Promise<Buffer[]> {
  const pool = poolFor(video);
  const out: Buffer[] = [];
  for await (const frame of decodeFrames(file, "video", video, "rgb24", pool, CPU, undefined, range)) {
    out.push(Buffer.from(frame));
    pool.release(frame);
  }
  return out;
}

/** The timeline's frames, copied out of the frame pool. */
async function timeline(o: Omit<Parameters<typeof timelineFrames>[0], "pool" | "codecs" | "format">) {
  const pool = poolFor(o.video);
  const out: { frame: Buffer; source: number }[] = [];
  for await (const { frame, source } of timelineFrames({ ...o, format: "rgb24", pool, codecs: CPU })) {
    out.push({ frame: Buffer.from(frame), source });
    pool.release(frame);
  }
  return out;
}

describe("frame decoding (real ffmpeg)", () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-decode-"));
    await makeIndexedVideo(f("idx25.mp4"), { seconds: 3 });
    await makeIndexedVideo(f("idx2997.mp4"), { seconds: 3, fps: 30000 / 1001 });
    // Keyframes far apart, as a phone records: a seek must decode from a keyframe well before.
    await run("ffmpeg", [
      ...["-v", "error", "-y", "-i", f("idx25.mp4"), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10"],
      ...["-g", "250", f("gop250.mp4")],
    ]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const name of ["idx25.mp4", "idx2997.mp4", "gop250.mp4"])
    it(`a range decode (accurate seek) yields the same frames as a decode from 0: ${name}`, async () => {
      const video = await probeVideo(f(name), "video", PIXELS);
      const all = await decodePooled(f(name), video);
      expect(all.length).toBe(video.frames);
      expect(all.map((fr) => readFrameIndex(fr, video.width))).toEqual(all.map((_, i) => i));
      for (const [start, count] of [
        [1, 5],
        [37, 10],
        [all.length - 4, 4],
        [0, 3],
      ] as const) {
        const part = await decodePooled(f(name), video, { start, count });
        expect(part.length, `${start}+${count}`).toBe(count);
        for (const [i, fr] of part.entries())
          expect(fr.equals(all[start + i] as Buffer), `${name} frame ${start + i}`).toBe(true);
      }
    });

  it("the timeline loops frame-exact: re-decoded in bounded chunks, or held when the clip fits the buffer", async () => {
    const video = await probeVideo(f("idx25.mp4"), "video", PIXELS);
    const frameBytes = video.width * video.height * 3;
    const n = video.frames; // 75
    const total = 4 * n + 11;
    // Buffers of 7 and 74 frames re-decode (backward chunks of 7, or one chunk of the 73
    // inner frames); 75 frames and more hold the whole clip from the first pass.
    for (const [loop, chunk] of [
      ["pingpong", 7],
      ["pingpong", 74],
      ["pingpong", 75],
      ["forward", 7],
      ["forward", 1000],
    ] as const) {
      const got = await timeline({
        file: f("idx25.mp4"),
        label: "video",
        video,
        frames: total,
        loop,
        bufferBytes: chunk * frameBytes,
      });
      const expected = Array.from({ length: total }, (_, i) => sourceIndex(i, n, loop));
      expect(
        got.map((g) => g.source),
        `${loop} ${chunk}`,
      ).toEqual(expected);
      expect(
        got.map((g) => readFrameIndex(g.frame, video.width)),
        `${loop} ${chunk}`,
      ).toEqual(expected);
    }
  });

  it("stops ffmpeg when the timeline ends before the clip does", async () => {
    const video = await probeVideo(f("idx25.mp4"), "video", PIXELS);
    const got = await timeline({
      file: f("idx25.mp4"),
      label: "v",
      video,
      frames: 10,
      loop: "pingpong",
      bufferBytes: 1,
    });
    expect(got.map((g) => g.source)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  for (const via of ["matrix", "tag"] as const)
    for (const clockwise of [90, 180, 270] as const)
      it(`a clip stored sideways with a ${clockwise}° ${via} rotation is probed and decoded upright`, async () => {
        const file = f(`rot-${via}-${clockwise}.${via === "tag" ? "mkv" : "mp4"}`);
        await makeRotatedVideo(file, { clockwise, via });
        const video = await probeVideo(file, "video", PIXELS);
        expect({ width: video.width, height: video.height, rotation: video.rotation }).toEqual({
          width: 72,
          height: 128,
          rotation: clockwise,
        });
        const [frame] = await decodePooled(file, video);
        const { red, green } = ROTATION_MARKERS;
        expect(markerAt(frame as Buffer, 72, red.x + 8, red.y + 8)).toBe("red");
        expect(markerAt(frame as Buffer, 72, green.x + 8, 128 - green.yFromBottom + 8)).toBe("green");
        expect(markerAt(frame as Buffer, 72, 72 - 12, 12)).toBe("grey");
        if (via === "matrix") {
          // ffmpeg's own autorotation shows the same picture.
          const shown = await decodeAll(file);
          expect(markerAt(shown.frames[0] as Buffer, 72, red.x + 8, red.y + 8)).toBe("red");
        }
      });

  it("refuses a mirrored display matrix and a 45° rotation, saying why", async () => {
    await makeMirroredVideo(f("mirror.mp4"));
    await expect(probeVideo(f("mirror.mp4"), "video input abc", PIXELS)).rejects.toThrow(
      /^video input abc cannot be shown upright: its display matrix mirrors the picture \(a flip\); only quarter turns/,
    );
    await makeIndexedVideo(f("plain.mp4"), { seconds: 1 });
    const degrees45 = ["-display_rotation:v:0", "45", "-i", f("plain.mp4"), "-c", "copy", f("rot45.mp4")];
    const { stdout } = await run("ffmpeg", ["-hide_banner", "-h", "full"], { maxBuffer: 64 * 1024 * 1024 });
    await run("ffmpeg", [
      ...["-v", "error", "-y"],
      ...(stdout.includes("-display_rotation")
        ? degrees45
        : ["-i", f("plain.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=45", f("rot45.mp4")]),
    ]);
    await expect(probeVideo(f("rot45.mp4"), "video input abc", PIXELS)).rejects.toThrow(
      /cannot be shown upright: its display matrix rotates it by (45|315)°/,
    );
  });
});
