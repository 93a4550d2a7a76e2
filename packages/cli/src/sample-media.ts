import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TalkingHeadOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Tone frequency; different values give different audio bytes. */
  frequency?: number;
}

/** ffmpeg, quiet and overwriting, reading lavfi sources (generated, nothing downloaded). */
async function generate(sources: string[], output: string[]): Promise<void> {
  await run("ffmpeg", [
    "-hide_banner",
    ...["-loglevel", "error", "-y"],
    ...sources.flatMap((source) => ["-f", "lavfi", "-i", source]),
    ...output,
  ]);
}

const tone = (frequency: number, seconds: number) =>
  `sine=frequency=${frequency}:duration=${seconds}:sample_rate=16000`;

/** A small H.264 MP4 with a moving test pattern and an AAC tone, made by ffmpeg. */
export async function makeVideo(file: string, o: TalkingHeadOptions = {}): Promise<void> {
  const { seconds = 2, width = 160, height = 120, fps = 25, frequency = 440 } = o;
  await generate(
    [`testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`, tone(frequency, seconds)],
    ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", file],
  );
}

/** A WAV whose loudness pulses (so a lip-sync model has something to follow). */
export async function makeAudio(file: string, o: { seconds?: number; frequency?: number } = {}): Promise<void> {
  const { seconds = 2, frequency = 220 } = o;
  await generate(
    [tone(frequency, seconds)],
    ["-af", "volume='0.2+0.8*abs(sin(2*PI*2*t))':eval=frame", "-ac", "1", file],
  );
}

/**
 * A short clip of a face: the portrait image (e.g. the astronaut) drifting and shrinking over
 * a plain background, with a tone, so a face detector finds it on every frame.
 */
export async function makeFaceClip(file: string, portrait: string, o: { seconds?: number } = {}): Promise<void> {
  const { seconds = 2 } = o;
  await run("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", `color=c=0x2a4d69:s=480x270:r=25:d=${seconds}`],
    ...["-loop", "1", "-framerate", "25", "-i", portrait],
    ...["-f", "lavfi", "-i", tone(330, seconds)],
    "-filter_complex",
    `[1:v]scale=w='2*trunc((230-10*t)/2)':h='2*trunc((230-10*t)/2)':eval=frame[p];` +
      `[0:v][p]overlay=x='2*trunc((100+20*t)/2)':y=20:eval=frame:shortest=1,format=yuv420p[v]`,
    ...["-map", "[v]", "-map", "2:a", "-t", String(seconds)],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", file],
  ]);
}
