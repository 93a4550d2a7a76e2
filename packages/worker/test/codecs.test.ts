import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { startWorker } from "../src/index.ts";
import { probeCodecCapabilities } from "../src/media/codecs.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

// The project's machines have no NVIDIA card (their ffmpeg may still list NVENC and cuda);
// on one with a card these fallbacks do not happen (scripts/gpu-check.sh shows what does).
const cardPresent = (await probeCodecCapabilities(0)).card !== undefined;

describe.skipIf(cardPresent)("hardware codecs on a machine without a card", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startWorkerHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("auto falls back to libx264 and CPU decoding with one log line, and the job succeeds", async () => {
    const lines: { level: number; msg: string; encoder?: string; decoder?: string }[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const worker = await startWorker(h.config({ VIDEO_ENCODER: "auto", VIDEO_DECODER: "auto" }), {
      log: pino({ level: "info" }, sink),
    });
    try {
      const f = (n: string) => path.join(h.infra.dir, n);
      await makeVideo(f("v.mp4"), { seconds: 1, width: 160, height: 120 });
      await makeAudio(f("a.wav"), { seconds: 1 });
      const { batchId } = await h.submit(await h.putFile(DEMO_MODEL_PATH), [
        { name: "a", video: await h.putFile(f("v.mp4")), audio: await h.putFile(f("a.wav")) },
      ]);
      expect(await h.waitDone(batchId)).toMatchObject({ succeeded: 1 });
    } finally {
      await worker.close();
    }
    const fallback = lines.filter((l) => /VIDEO_ENCODER=auto|VIDEO_DECODER=auto/.test(l.msg));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]?.msg).toBe(
      "VIDEO_ENCODER=auto uses libx264 (no NVIDIA card 0 on this machine); " +
        "VIDEO_DECODER=auto decodes on the CPU (no NVIDIA card 0 on this machine)",
    );
    expect(lines.find((l) => l.msg === "worker started")).toMatchObject({ encoder: "libx264", decoder: "cpu" });
  });

  it("an explicit NVENC or NVDEC setting stops the worker at start with the reason", async () => {
    await expect(startWorker(h.config({ VIDEO_ENCODER: "h264_nvenc" }))).rejects.toThrow(
      /VIDEO_ENCODER=h264_nvenc, but (no NVIDIA card 0 on this machine|this ffmpeg has no h264_nvenc encoder)/,
    );
    await expect(startWorker(h.config({ VIDEO_DECODER: "cuda" }))).rejects.toThrow(/VIDEO_DECODER=cuda, but/);
  });
});
