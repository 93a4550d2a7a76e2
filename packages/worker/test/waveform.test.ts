import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { POSTER_WIDTH } from "../src/media/poster.ts";
import { makeWaveform, WAVEFORM_HEIGHT } from "../src/media/waveform.ts";
import { makeAudio } from "../../../test/harness/media.ts";

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-waveform-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("waveform picture", () => {
  it("draws an audio file's waveform as a poster-wide JPEG", async () => {
    const audio = path.join(dir, "speech.wav");
    const out = path.join(dir, "poster.jpg");
    await makeAudio(audio, { seconds: 1 });
    await makeWaveform(audio, out);
    const { stdout } = await run("ffprobe", ["-v", "error", "-show_streams", "-of", "json", out]);
    const [stream] = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] })
      .streams;
    expect(stream).toMatchObject({ codec_name: "mjpeg", width: POSTER_WIDTH, height: WAVEFORM_HEIGHT });
    // The tone is drawn: not every pixel is the background.
    const { stdout: gray } = await run(
      "ffmpeg",
      ["-v", "error", "-i", out, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
      {
        encoding: "buffer",
        maxBuffer: 1 << 20,
      },
    );
    expect(new Set(gray as unknown as Buffer).size).toBeGreaterThan(2);
  });
});
