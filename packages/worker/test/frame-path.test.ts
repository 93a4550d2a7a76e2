/**
 * The frame path's stages with real ffmpeg decode/encode and the native crop and paste; the
 * model call is a recording stand-in, so each face's mel window and frame index can be read.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Mutex } from "async-mutex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import type { FaceBatch } from "../src/frames/frame-path.ts";
import { MEL, type MelSpectrogram, melSpectrogram, melWindow } from "../src/audio/mel.ts";
import { FACE_FLOATS, FrameOps, type Rect } from "../src/frames/frame-ops.ts";
import { runFramePath } from "../src/frames/frame-path.ts";
import { decodeAudio, fitSamples } from "../src/media/decode.ts";
import { probeVideo, type VideoInfo } from "../src/media/probe.ts";

const MEL_FLOATS = 80 * MEL.stepSize;
const PLANE = 96 * 96;

describe("frame path", () => {
  let dir: string;
  let ops: FrameOps;
  let video: VideoInfo;
  let mel: MelSpectrogram;
  const files = { video: "", audio: "" };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "frame-path-"));
    files.video = path.join(dir, "v.mp4");
    files.audio = path.join(dir, "a.wav");
    await makeVideo(files.video, { seconds: 2, width: 160, height: 120 });
    await makeAudio(files.audio, { seconds: 2 });
    video = await probeVideo(files.video, "video", 1e7);
    mel = melSpectrogram(fitSamples(await decodeAudio(files.audio, "audio"), video.frames / video.fps));
    ops = await FrameOps.load();
  });
  afterAll(async () => {
    await ops?.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the path; the stand-in model returns each face's reference half and records its mel window. */
  async function run(o: { batchSize: number; fixedBatch?: number; rectOf?: (i: number) => Rect | null }) {
    const calls: { count: number; size: number }[] = [];
    const windows: Float32Array[] = [];
    const cardLock = new Mutex();
    const result = await runFramePath({
      videoFile: files.video,
      videoLabel: "video",
      video,
      audioFile: files.audio,
      outFile: path.join(dir, `out-${o.batchSize}.mp4`),
      mel,
      timeline: { frames: "clip", loop: "forward", bufferBytes: 0 },
      rectOf: o.rectOf ?? (() => ({ x1: 40, y1: 20, x2: 120, y2: 110 })),
      order: "rgb",
      batchSize: o.batchSize,
      fixedBatch: o.fixedBatch,
      ops,
      cardLock,
      codecs: { encoder: "libx264", decoder: "cpu", device: 0 },
      signal: new AbortController().signal,
      onProgress: () => {},
      run: async (batch: FaceBatch) => {
        expect(cardLock.isLocked()).toBe(true);
        const size = batch.face.length / FACE_FLOATS;
        calls.push({ count: batch.count, size });
        for (let i = 0; i < batch.count; i++) windows.push(batch.mel.slice(i * MEL_FLOATS, (i + 1) * MEL_FLOATS));
        for (let i = 0; i < batch.count; i++)
          batch.prediction.set(batch.face.subarray(i * FACE_FLOATS + 3 * PLANE, (i + 1) * FACE_FLOATS), i * 3 * PLANE);
        return { batch, runSeconds: 0.001 };
      },
    });
    expect(cardLock.isLocked()).toBe(false); // released after the last model call
    return { result, calls, windows };
  }

  it("cuts the audio into the same mel windows whatever the batch size", async () => {
    const expected = Array.from({ length: video.frames }, (_, i) => {
      const w = new Float32Array(MEL_FLOATS);
      melWindow(mel, i, video.fps, w);
      return w;
    });
    for (const batchSize of [1, 7, 16]) {
      const { result, calls, windows } = await run({ batchSize });
      expect(result.frames).toBe(video.frames);
      expect(calls.map((c) => c.count).reduce((a, b) => a + b, 0)).toBe(video.frames);
      expect(calls.slice(0, -1).every((c) => c.count === batchSize && c.size === batchSize)).toBe(true);
      expect(windows).toEqual(expected);
    }
  });

  it("pads a fixed-batch model's last call and passes faceless frames through without a model call", async () => {
    const fixed = await run({ batchSize: 16, fixedBatch: 8 });
    expect(fixed.calls.every((c) => c.size === 8)).toBe(true);
    expect(fixed.calls.at(-1)?.count).toBe(video.frames % 8 || 8);

    // Every third frame has no face: it is encoded as decoded, and its mel window is skipped.
    const sparse = await run({ batchSize: 4, rectOf: (i) => (i % 3 === 0 ? null : { x1: 0, y1: 0, x2: 96, y2: 96 }) });
    expect(sparse.result.frames).toBe(video.frames);
    const withFace = Array.from({ length: video.frames }, (_, i) => i).filter((i) => i % 3 !== 0);
    expect(sparse.windows).toHaveLength(withFace.length);
    const w = new Float32Array(MEL_FLOATS);
    melWindow(mel, withFace[5] as number, video.fps, w);
    expect(sparse.windows[5]).toEqual(w);

    // No face at all, for longer than the frame pool holds (50 frames, pool of 20): no model call, no stall.
    const none = await run({ batchSize: 4, rectOf: () => null });
    expect(none.result.frames).toBe(video.frames);
    expect(none.calls).toHaveLength(0);
  });
});
