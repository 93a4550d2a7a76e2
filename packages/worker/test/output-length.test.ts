import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAll, makeIndexedVideo, makeSpeech, readFrameIndex } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { sourceIndex } from "../src/media/timeline.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const run = promisify(execFile);
const W = 160;
const H = 120;
const FPS = 25;
const CLIP_FRAMES = 100; // 4 s
// The demo model draws only inside the crop: box [40, 40, 80, 60] with Wav2Lip's pads (bottom 10).
const BOX = [40, 40, 80, 60];
const CROP = { x1: 40, y1: 40, x2: 120, y2: 110 };

/** Mean absolute difference over the picture below the index strip and outside the crop. */
function distance(a: Buffer, b: Buffer): number {
  let sum = 0;
  let count = 0;
  for (let y = 16; y < H; y++)
    for (let x = 0; x < W; x++) {
      if (x >= CROP.x1 && x < CROP.x2 && y >= CROP.y1 && y < CROP.y2) continue;
      for (let c = 0; c < 3; c++)
        sum += Math.abs((a[(y * W + x) * 3 + c] as number) - (b[(y * W + x) * 3 + c] as number));
      count += 3;
    }
  return sum / count;
}

/**
 * Steps measured on decoded pictures. Consecutive output frames may differ by at most what
 * consecutive input frames differ by, plus the re-encoding noise of the two frames (triangle
 * inequality: d(o_i, o_i+1) <= d(o_i, s_i) + d(s_i, s_i+1) + d(s_i+1, o_i+1)).
 */
function steps(input: Buffer[], frames: Buffer[], shown: number[]) {
  const stepIn = Math.max(...input.slice(1).map((fr, j) => distance(input[j] as Buffer, fr)));
  const noise = Math.max(...frames.map((fr, i) => distance(fr, input[shown[i] as number] as Buffer)));
  const stepOut = frames.slice(1).map((fr, i) => distance(frames[i] as Buffer, fr));
  return { stepIn, noise, stepOut, bound: stepIn + 2 * noise };
}

const probe = async (file: string) => {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-count_frames", "-show_entries", "format=duration:stream=codec_type,duration,nb_read_frames"],
    ...["-of", "json", file],
  ]);
  const data = JSON.parse(stdout) as {
    format: { duration: string };
    streams: { codec_type: string; duration: string; nb_read_frames?: string }[];
  };
  const video = data.streams.find((s) => s.codec_type === "video");
  const audio = data.streams.find((s) => s.codec_type === "audio");
  return {
    duration: Number(data.format.duration),
    videoDuration: Number(video?.duration),
    audioDuration: Number(audio?.duration),
    frames: Number(video?.nb_read_frames),
  };
};

describe("output length follows the audio; the clip loops ping-pong", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  const blobs: Record<string, string> = {};
  const f = (n: string) => path.join(h.infra.dir, n);
  let input: Buffer[];

  const lipSync = async (audio: string, params: Record<string, unknown>) => {
    const { batchId, items } = await h.submit(blobs.model as string, [
      { name: "x", video: blobs.clip as string, audio: blobs[audio] as string, params: { box: BOX, ...params } },
    ]);
    expect(await h.waitDone(batchId, 120_000)).toMatchObject({ succeeded: 1 });
    return h.downloadOutput(items[0]?.jobKey as string, `${audio}-${JSON.stringify(params).replace(/\W/g, "")}.mp4`);
  };

  beforeAll(async () => {
    h = await startWorkerHarness();
    await makeIndexedVideo(f("clip.mp4"), { seconds: CLIP_FRAMES / FPS, fps: FPS, width: W, height: H });
    await makeSpeech(f("speech11.wav"), { seconds: 11 });
    await makeSpeech(f("speech6.wav"), { seconds: 6, text: "Forward loops jump back to the first frame." });
    for (const n of ["clip.mp4", "speech11.wav", "speech6.wav"]) blobs[n.replace(/\.\w+$/, "")] = await h.putFile(f(n));
    blobs.model = await h.putFile(DEMO_MODEL_PATH);
    input = (await decodeAll(f("clip.mp4"))).frames;
    expect(input.map((fr) => readFrameIndex(fr, W))).toEqual(input.map((_, i) => i));
    worker = await startWorker(h.config());
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  it("a 4 s clip with 11 s of speech gives an 11 s output, ping-pong, with no jump at the seams", async () => {
    const out = await lipSync("speech11", {}); // defaults: length=audio, loop=pingpong
    const p = await probe(out);
    expect(Math.abs(p.duration - 11), `container ${p.duration} s`).toBeLessThanOrEqual(1 / FPS);
    expect(Math.abs(p.videoDuration - 11), `video ${p.videoDuration} s`).toBeLessThanOrEqual(1 / FPS);
    expect(p.frames).toBe(11 * FPS);

    const frames = (await decodeAll(out)).frames;
    expect(frames.length).toBe(11 * FPS);
    const shown = frames.map((fr) => readFrameIndex(fr, W));
    // 0..99, 98..1, 0..99, 98..22: two seams at the clip's end, one at its start.
    expect(shown).toEqual(shown.map((_, i) => sourceIndex(i, CLIP_FRAMES, "pingpong")));
    expect(shown.slice(97, 102)).toEqual([97, 98, 99, 98, 97]);
    expect(shown.slice(195, 201)).toEqual([3, 2, 1, 0, 1, 2]);

    // No two consecutive output frames further apart than two consecutive input frames.
    const { stepIn, noise, stepOut, bound } = steps(input, frames, shown);
    const worst = Math.max(...stepOut);
    const seams = [99, 197, 198].map((i) => (stepOut[i] as number).toFixed(2)).join(", ");
    console.log(
      `input step max ${stepIn.toFixed(2)}, re-encoding noise max ${noise.toFixed(2)}, ` +
        `output step max ${worst.toFixed(2)}, at the seams (99->98, 1->0, 0->1) ${seams}`,
    );
    expect(worst).toBeLessThanOrEqual(bound);
  });

  it("loop=forward restarts from frame 0: the same measure sees the jump", async () => {
    const out = await lipSync("speech6", { loop: "forward" });
    const frames = (await decodeAll(out)).frames;
    expect(Math.abs((await probe(out)).duration - 6)).toBeLessThanOrEqual(1 / FPS);
    const shown = frames.map((fr) => readFrameIndex(fr, W));
    expect(shown).toEqual(shown.map((_, i) => i % CLIP_FRAMES));
    const { stepIn, noise, stepOut, bound } = steps(input, frames, shown);
    const seam = stepOut[99] as number; // 99 -> 0
    console.log(
      `forward seam step ${seam.toFixed(2)} vs input step max ${stepIn.toFixed(2)} + 2 x noise ${noise.toFixed(2)}`,
    );
    expect(seam).toBeGreaterThan(bound);
  });

  it("a clip bigger than LOOP_BUFFER_BYTES is re-decoded, the backward pass in chunks: same order, same seams", async () => {
    // The 4 s clip (5.8 MB of frames) fits the default buffer and is held; here the buffer
    // holds 16 frames, so the backward pass 98..1 is decoded in 7 chunks with seeks.
    await worker.close();
    worker = await startWorker(h.config({ LOOP_BUFFER_BYTES: 16 * W * H * 3 }));
    const out = await lipSync("speech6", {}); // 150 frames: 0..99, 98..49
    const frames = (await decodeAll(out)).frames;
    const shown = frames.map((fr) => readFrameIndex(fr, W));
    expect(shown.length).toBe(6 * FPS);
    expect(shown).toEqual(shown.map((_, i) => sourceIndex(i, CLIP_FRAMES, "pingpong")));
    const { stepOut, bound } = steps(input, frames, shown);
    expect(Math.max(...stepOut)).toBeLessThanOrEqual(bound);
  });

  it("length=video keeps the clip's length and frames (the audio is cut)", async () => {
    const out = await lipSync("speech11", { length: "video" });
    const p = await probe(out);
    expect(Math.abs(p.duration - CLIP_FRAMES / FPS)).toBeLessThanOrEqual(1 / FPS);
    // The audio is cut where the frames end, not past them (-shortest overshot).
    expect(Math.abs(p.audioDuration - p.videoDuration), `audio ${p.audioDuration} s`).toBeLessThanOrEqual(0.001);
    const shown = (await decodeAll(out)).frames.map((fr) => readFrameIndex(fr, W));
    expect(shown).toEqual(Array.from({ length: CLIP_FRAMES }, (_, i) => i));
  });
});
