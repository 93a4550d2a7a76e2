import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { buildMismatchedModel } from "../scripts/test-models.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const run = promisify(execFile);
const duration = async (file: string) =>
  Number((await run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file])).stdout);

describe("bad media fails its item alone, with a reason a person understands", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  const blobs: Record<string, string> = {};
  const f = (n: string) => path.join(h.infra.dir, n);

  beforeAll(async () => {
    // 160x120 = 19,200 pixels fits; 320x240 does not.
    h = await startWorkerHarness({ MAX_FRAME_PIXELS: "20000" });
    await makeVideo(f("v.mp4"), { seconds: 2 });
    await makeVideo(f("big.mp4"), { seconds: 1, width: 320, height: 240 });
    await makeAudio(f("a.wav"), { seconds: 2 });
    await makeAudio(f("short.wav"), { seconds: 0.7, frequency: 300 });
    await makeAudio(f("long.wav"), { seconds: 5, frequency: 350 });
    await run("ffmpeg", ["-v", "error", "-y", "-i", f("v.mp4"), "-an", "-c", "copy", f("silent.mp4")]);
    const whole = fs.readFileSync(f("v.mp4"));
    fs.writeFileSync(f("truncated.mp4"), whole.subarray(0, Math.floor(whole.length / 2)));
    // A WAV whose format tag no decoder knows: ffprobe reads it, ffmpeg cannot decode it.
    const wav = Buffer.from(fs.readFileSync(f("a.wav")));
    wav.writeUInt16LE(0x1234, wav.indexOf("fmt ") + 8);
    fs.writeFileSync(f("unknown-codec.wav"), wav);
    fs.writeFileSync(f("notes.txt"), "this is a text file, not a video\n".repeat(20));
    for (const n of [
      "v.mp4",
      "big.mp4",
      "a.wav",
      "short.wav",
      "long.wav",
      "silent.mp4",
      "truncated.mp4",
      "unknown-codec.wav",
      "notes.txt",
    ])
      blobs[n] = await h.putFile(f(n));
    blobs.model = await h.putFile(DEMO_MODEL_PATH);
    blobs.mismatched = await h.putBlob(Buffer.from(buildMismatchedModel()));
    worker = await startWorker(h.config());
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  it("truncated MP4, video without audio as the audio, unknown codec, text file, oversized frames", async () => {
    const b = blobs as Record<string, string>;
    const { batchId } = await h.submit(b.model as string, [
      { name: "truncated", video: b["truncated.mp4"] as string, audio: b["a.wav"] as string },
      { name: "no-audio", video: b["v.mp4"] as string, audio: b["silent.mp4"] as string },
      { name: "codec", video: b["v.mp4"] as string, audio: b["unknown-codec.wav"] as string },
      { name: "text", video: b["notes.txt"] as string, audio: b["a.wav"] as string },
      { name: "big", video: b["big.mp4"] as string, audio: b["a.wav"] as string },
      { name: "good", video: b["v.mp4"] as string, audio: b["a.wav"] as string },
    ]);
    expect(await h.waitDone(batchId)).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 5 });
    const views = await h.ledger.batches.itemViews(batchId, 0, 6);
    const errors = Object.fromEntries(views.map((v) => [v.name, v.error]));
    expect(errors.truncated).toMatch(
      /^video input [0-9a-f]{12} is not a readable media file; truncated, corrupt or not audio\/video\? \(ffprobe: Invalid data found when processing input\)$/,
    );
    expect(errors["no-audio"]).toMatch(/audio input [0-9a-f]{12} has no audio stream \(streams found: video\)/);
    expect(errors.codec).toMatch(/audio input [0-9a-f]{12} has a audio stream in a codec this ffmpeg cannot decode/);
    expect(errors.text).toMatch(/video input [0-9a-f]{12} (is not a readable media file|has no video stream)/);
    expect(errors.big).toMatch(/frames are 320x240 = 76800 pixels, more than MAX_FRAME_PIXELS=20000/);
    expect(errors.good).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(h.scratchEntries()).toEqual([]);
  });

  it("a valid ONNX model with another signature fails with both signatures named", async () => {
    const { batchId } = await h.submit(blobs.mismatched as string, [
      { name: "x", video: blobs["v.mp4"] as string, audio: blobs["a.wav"] as string },
    ]);
    expect(await h.waitDone(batchId)).toMatchObject({ failed: 1 });
    const [view] = await h.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toMatch(
      /model [0-9a-f]{12} does not fit the wav2lip adapter, which needs inputs mel \[B,1,80,16\] and face \[B,6,96,96\].*the model has inputs image \[batch,3,64,64\] and outputs restored \[batch,3,64,64\]/,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(h.scratchEntries()).toEqual([]);
  });

  it("audio shorter or longer than the video: as long as the audio by default, as the video with length=video", async () => {
    const specs = [
      { name: "short-audio", audio: "short.wav", params: { length: "video" } },
      { name: "long-audio", audio: "long.wav", params: { length: "video" } },
      { name: "short-audio-default", audio: "short.wav", params: {} },
      { name: "long-audio-default", audio: "long.wav", params: {} },
    ];
    const { batchId, items } = await h.submit(
      blobs.model as string,
      specs.map((s) => ({
        name: s.name,
        video: blobs["v.mp4"] as string,
        audio: blobs[s.audio] as string,
        params: s.params,
      })),
    );
    expect(await h.waitDone(batchId)).toMatchObject({ succeeded: 4 });
    const videoSeconds = await duration(f("v.mp4"));
    for (const [i, item] of items.entries()) {
      const spec = specs[i] as (typeof specs)[number];
      const out = await h.downloadOutput(item.jobKey, `${item.name}.mp4`);
      const expected = spec.params.length === "video" ? videoSeconds : await duration(f(spec.audio));
      expect(Math.abs((await duration(out)) - expected), item.name).toBeLessThan(0.1);
    }
  });
});
