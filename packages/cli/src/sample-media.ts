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
