import { describe, expect, it } from "vitest";
import { type CodecCapabilities, chooseCodecs, CodecUnavailableError, parseEncoders, parseHwaccels } from "./codecs.ts";

// Excerpts of what ffmpeg 5.1 prints (Debian's build lists NVENC and cuda even without a card).
const ENCODERS = `Encoders:
 V..... = Video
 A..... = Audio
 .F.... = Frame-level multithreading
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
`;
const HWACCELS = `Hardware acceleration methods:
vdpau
cuda
vaapi

`;

const caps = (o: { nvenc?: boolean; cuda?: boolean; card?: boolean }): CodecCapabilities => ({
  encoders: new Set(["libx264", ...(o.nvenc ? ["h264_nvenc"] : [])]),
  hwaccels: new Set(o.cuda ? ["cuda", "vaapi"] : ["vaapi"]),
  card: o.card ? "/dev/nvidia0" : undefined,
});
const setting = (VIDEO_ENCODER: "auto" | "libx264" | "h264_nvenc", VIDEO_DECODER: "auto" | "cpu" | "cuda") => ({
  VIDEO_ENCODER,
  VIDEO_DECODER,
  GPU_DEVICE_ID: 0,
});

describe("hardware codec choice", () => {
  it("reads ffmpeg's encoder and hwaccel lists", () => {
    expect(parseEncoders(ENCODERS)).toEqual(new Set(["libx264", "h264_nvenc", "aac"]));
    expect(parseHwaccels(HWACCELS)).toEqual(new Set(["vdpau", "cuda", "vaapi"]));
  });

  it("auto picks NVENC and NVDEC when ffmpeg has them and the card is present, silently", () => {
    expect(chooseCodecs(setting("auto", "auto"), caps({ nvenc: true, cuda: true, card: true }))).toEqual({
      encoder: "h264_nvenc",
      decoder: "cuda",
      device: 0,
      fallback: undefined,
    });
  });

  it("auto falls back to libx264 and CPU decoding without a card, with one reason line", () => {
    const choice = chooseCodecs(setting("auto", "auto"), caps({ nvenc: true, cuda: true, card: false }));
    expect(choice).toMatchObject({ encoder: "libx264", decoder: "cpu" });
    expect(choice.fallback).toBe(
      "VIDEO_ENCODER=auto uses libx264 (no NVIDIA card 0 on this machine); " +
        "VIDEO_DECODER=auto decodes on the CPU (no NVIDIA card 0 on this machine)",
    );
  });

  it("auto falls back when ffmpeg lacks one of them, even with a card", () => {
    const choice = chooseCodecs(setting("auto", "auto"), caps({ nvenc: false, cuda: true, card: true }));
    expect(choice).toMatchObject({ encoder: "libx264", decoder: "cuda" });
    expect(choice.fallback).toBe("VIDEO_ENCODER=auto uses libx264 (this ffmpeg has no h264_nvenc encoder)");
  });

  it("explicit CPU settings never probe or warn", () => {
    expect(chooseCodecs(setting("libx264", "cpu"), caps({ nvenc: true, cuda: true, card: true }))).toEqual({
      encoder: "libx264",
      decoder: "cpu",
      device: 0,
      fallback: undefined,
    });
  });

  it("an explicit hardware codec the machine lacks stops the worker with the reason", () => {
    expect(() => chooseCodecs(setting("h264_nvenc", "cpu"), caps({ nvenc: true, card: false }))).toThrow(
      new CodecUnavailableError("VIDEO_ENCODER=h264_nvenc, but no NVIDIA card 0 on this machine; use libx264 or auto"),
    );
    expect(() => chooseCodecs(setting("libx264", "cuda"), caps({ cuda: false, card: true }))).toThrow(
      /VIDEO_DECODER=cuda, but this ffmpeg has no cuda hwaccel; use cpu or auto/,
    );
  });
});
