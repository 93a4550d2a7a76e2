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

/** A small H.264 MP4 with a moving test pattern and an AAC tone, made by ffmpeg. */
export async function makeVideo(file: string, o: TalkingHeadOptions = {}): Promise<void> {
  const { seconds = 2, width = 160, height = 120, fps = 25, frequency = 440 } = o;
  await run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=${frequency}:duration=${seconds}:sample_rate=16000`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-shortest",
    file,
  ]);
}

/** A WAV whose loudness pulses (so a lip-sync model has something to follow). */
export async function makeAudio(file: string, o: { seconds?: number; frequency?: number } = {}): Promise<void> {
  const { seconds = 2, frequency = 220 } = o;
  await run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=${frequency}:duration=${seconds}:sample_rate=16000`,
    "-af",
    "volume='0.2+0.8*abs(sin(2*PI*2*t))':eval=frame",
    "-ac",
    "1",
    file,
  ]);
}
