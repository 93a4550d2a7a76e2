/**
 * Which video encoder and decoder a worker uses (docs/architecture.md#hardware-codecs):
 * NVENC/NVDEC when the setting asks for them, or when it is `auto` and both ffmpeg reports
 * them and the machine has the card; otherwise libx264 and CPU decoding.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import type { Config } from "@mediaq/shared";
import type { VideoEncoderName } from "./encode.ts";

export type VideoDecoderName = "cpu" | "cuda";

export interface Codecs {
  encoder: VideoEncoderName;
  decoder: VideoDecoderName;
  /** The card ffmpeg's hardware codecs use (GPU_DEVICE_ID). */
  device: number;
}

/** What this machine offers: ffmpeg's encoders and hardware accelerations, and whether the card exists. */
export interface CodecCapabilities {
  encoders: ReadonlySet<string>;
  hwaccels: ReadonlySet<string>;
  /** Why the card counts as present (e.g. "/dev/nvidia0"), or undefined when it is absent. */
  card?: string;
}

export interface CodecChoice extends Codecs {
  /** One line for the log when `auto` fell back to the CPU; undefined otherwise. */
  fallback?: string;
}

export class CodecUnavailableError extends Error {
  override name = "CodecUnavailableError";
}

/** `ffmpeg -encoders` lists " V....D h264_nvenc  NVIDIA NVENC ..."; returns the names. */
export function parseEncoders(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (m?.[1] && m[1] !== "=") names.add(m[1]);
  }
  return names;
}

/** `ffmpeg -hwaccels` prints a header line and then one name per line. */
export function parseHwaccels(text: string): Set<string> {
  const lines = text.split("\n").map((l) => l.trim());
  const start = lines.findIndex((l) => /^Hardware acceleration methods/i.test(l));
  return new Set(lines.slice(start + 1).filter(Boolean));
}

/** The decision, as a pure function of the settings and the machine (tested without a GPU). */
export function chooseCodecs(
  setting: Pick<Config, "VIDEO_ENCODER" | "VIDEO_DECODER" | "GPU_DEVICE_ID">,
  caps: CodecCapabilities,
): CodecChoice {
  const device = setting.GPU_DEVICE_ID;
  const missing = (what: string, ffmpegHas: boolean) =>
    !ffmpegHas ? `this ffmpeg has no ${what}` : !caps.card ? `no NVIDIA card ${device} on this machine` : undefined;
  const nvencMissing = missing("h264_nvenc encoder", caps.encoders.has("h264_nvenc"));
  const nvdecMissing = missing("cuda hwaccel", caps.hwaccels.has("cuda"));

  if (setting.VIDEO_ENCODER === "h264_nvenc" && nvencMissing)
    throw new CodecUnavailableError(`VIDEO_ENCODER=h264_nvenc, but ${nvencMissing}; use libx264 or auto`);
  if (setting.VIDEO_DECODER === "cuda" && nvdecMissing)
    throw new CodecUnavailableError(`VIDEO_DECODER=cuda, but ${nvdecMissing}; use cpu or auto`);

  const encoder: VideoEncoderName =
    setting.VIDEO_ENCODER === "auto" ? (nvencMissing ? "libx264" : "h264_nvenc") : setting.VIDEO_ENCODER;
  const decoder: VideoDecoderName =
    setting.VIDEO_DECODER === "auto" ? (nvdecMissing ? "cpu" : "cuda") : setting.VIDEO_DECODER;
  const reasons = [
    setting.VIDEO_ENCODER === "auto" && nvencMissing ? `VIDEO_ENCODER=auto uses libx264 (${nvencMissing})` : "",
    setting.VIDEO_DECODER === "auto" && nvdecMissing ? `VIDEO_DECODER=auto decodes on the CPU (${nvdecMissing})` : "",
  ].filter(Boolean);
  return { encoder, decoder, device, fallback: reasons.length > 0 ? reasons.join("; ") : undefined };
}

const run = promisify(execFile);

/** Asks ffmpeg what it can do and looks for the card (its device node, else nvidia-smi). */
export async function probeCodecCapabilities(device: number): Promise<CodecCapabilities> {
  const ffmpegSays = async (flag: string) =>
    (await run("ffmpeg", ["-hide_banner", flag]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" })))
      .stdout;
  const [encoders, hwaccels] = await Promise.all([ffmpegSays("-encoders"), ffmpegSays("-hwaccels")]);
  let card: string | undefined;
  if (fs.existsSync(`/dev/nvidia${device}`)) card = `/dev/nvidia${device}`;
  else {
    const smi = await run("nvidia-smi", ["-L"]).catch(() => undefined);
    if (smi && new RegExp(`^GPU ${device}:`, "m").test(smi.stdout)) card = `nvidia-smi lists GPU ${device}`;
  }
  return { encoders: parseEncoders(encoders), hwaccels: parseHwaccels(hwaccels), card };
}

/** ffmpeg input options that decode on the card (frames still arrive in memory, as yuv420p or rgb24). */
export const decoderInputArgs = (codecs: Pick<Codecs, "decoder" | "device">): string[] =>
  codecs.decoder === "cuda" ? ["-hwaccel", "cuda", "-hwaccel_device", String(codecs.device)] : [];
