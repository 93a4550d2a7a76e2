import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAudio } from "../src/media/decode.ts";
import { readWavAtRate } from "../src/media/wav-audio.ts";

// A PCM WAV at the model's rate is read without an ffmpeg process, and gives what ffmpeg gives
// (docs/architecture.md#fixed-costs-per-item).
const run = promisify(execFile);

/** ffmpeg's own decode to 16 kHz mono f32: what decodeAudio gave for every file before. */
async function ffmpegDecode(file: string): Promise<Float32Array> {
  const { stdout } = await run(
    "ffmpeg",
    ["-v", "error", "-nostdin", "-i", file, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_f32le", "-f", "f32le", "-"],
    { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
  );
  return new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.byteLength));
}

describe("WAV audio read in process", () => {
  let dir: string;
  const f = (name: string) => path.join(dir, name);
  /** A 3 s tone of rising loudness, written by ffmpeg as `codec` at `rate` with `channels`. */
  const make = (name: string, o: { codec: string; rate: number; channels: number; extra?: string[] }) =>
    run("ffmpeg", [
      ...["-v", "error", "-y", "-f", "lavfi"],
      ...["-i", `aevalsrc='0.9*sin(2*PI*310*t)*t/3|0.6*sin(2*PI*523*t+1)':d=3:s=48000`],
      ...["-ac", String(o.channels), "-ar", String(o.rate), "-c:a", o.codec, ...(o.extra ?? []), f(name)],
    ]);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-wav-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("gives ffmpeg's samples for each PCM layout at 16 kHz, mono and stereo", async () => {
    const layouts = [
      ["u8", "pcm_u8"],
      ["s16", "pcm_s16le"],
      ["s24", "pcm_s24le"],
      ["s32", "pcm_s32le"],
      ["f32", "pcm_f32le"],
      ["f64", "pcm_f64le"],
    ];
    for (const [name, codec] of layouts)
      for (const channels of [1, 2]) {
        const file = `${name}-${channels}.wav`;
        await make(file, { codec: codec as string, rate: 16_000, channels });
        const ours = await readWavAtRate(f(file), 16_000);
        const theirs = await ffmpegDecode(f(file));
        expect(ours, file).toBeInstanceOf(Float32Array);
        expect(ours?.length, file).toBe(theirs.length);
        expect(theirs.length, file).toBe(48_000);
        let worst = 0;
        for (let i = 0; i < theirs.length; i++)
          worst = Math.max(worst, Math.abs((ours?.[i] ?? Number.NaN) - (theirs[i] as number)));
        // Mono is the same conversion, bit for bit; stereo's downmix rounds in float in ffmpeg.
        expect(worst, file).toBeLessThanOrEqual(channels === 1 ? 0 : 2e-7);
      }
  });

  it("reads a window as the same samples as the whole file", async () => {
    await make("w.wav", { codec: "pcm_s16le", rate: 16_000, channels: 1 });
    const whole = await decodeAudio(f("w.wav"), "w");
    const part = await decodeAudio(f("w.wav"), "w", undefined, { seekSeconds: 1, seconds: 1.5 });
    expect(part.length).toBe(24_000);
    expect(Buffer.from(part.buffer).equals(Buffer.from(whole.slice(16_000, 40_000).buffer))).toBe(true);
  });

  it("leaves other rates, codecs, channel counts and non-WAV files to ffmpeg", async () => {
    await make("22k.wav", { codec: "pcm_s16le", rate: 22_050, channels: 1 });
    await make("alaw.wav", { codec: "pcm_alaw", rate: 16_000, channels: 1 });
    await make("six.wav", { codec: "pcm_s16le", rate: 16_000, channels: 6 });
    await make("a.m4a", { codec: "aac", rate: 16_000, channels: 1 });
    await make("be.aiff", { codec: "pcm_s16be", rate: 16_000, channels: 1 });
    fs.writeFileSync(f("text.wav"), "RIFF but not really a wave file");
    fs.writeFileSync(f("empty.wav"), "");
    for (const name of ["22k.wav", "alaw.wav", "six.wav", "a.m4a", "be.aiff", "text.wav", "empty.wav", "missing.wav"])
      expect(await readWavAtRate(f(name), 16_000), name).toBeUndefined();
    // decodeAudio still decodes them, through ffmpeg.
    for (const name of ["22k.wav", "alaw.wav", "a.m4a"]) {
      const decoded = await decodeAudio(f(name), name);
      expect(decoded.length, name).toBeGreaterThan(47_000);
      expect(Buffer.from(decoded.buffer).equals(Buffer.from((await ffmpegDecode(f(name))).buffer)), name).toBe(true);
    }
  });
});
