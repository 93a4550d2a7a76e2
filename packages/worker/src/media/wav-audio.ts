import fs from "node:fs/promises";
import wavefile from "wavefile";

/** Larger WAV files are left to ffmpeg rather than read whole into memory. */
const MAX_IN_PROCESS_BYTES = 256 * 1024 * 1024;

/** How one sample of each PCM layout (bits, "f" for float) reads as a float in [-1, 1), as ffmpeg converts it. */
const READERS: Record<string, { bytes: number; read(view: DataView, at: number): number }> = {
  "8": { bytes: 1, read: (v, at) => (v.getUint8(at) - 128) / 128 },
  "16": { bytes: 2, read: (v, at) => v.getInt16(at, true) / 32768 },
  "24": { bytes: 3, read: (v, at) => ((v.getUint8(at + 2) << 24) | (v.getUint16(at, true) << 8)) / 2147483648 },
  "32": { bytes: 4, read: (v, at) => v.getInt32(at, true) / 2147483648 },
  "32f": { bytes: 4, read: (v, at) => v.getFloat32(at, true) },
  "64f": { bytes: 8, read: (v, at) => v.getFloat64(at, true) },
};

/**
 * Samples [from, to) of a PCM WAV file already at `rate` (mono, or stereo downmixed as ffmpeg
 * does: (left + right) / sqrt 2),
 * read in this process: what ffmpeg's decode to `rate` mono f32 gives for such a file, without
 * an ffmpeg process (~0.17 s of CPU to start on the reference machine:
 * docs/architecture.md#fixed-costs-per-item). Undefined for anything else (another rate,
 * a compressed codec, more channels, not a WAV file, a damaged one): ffmpeg decodes those
 * and explains their faults.
 */
export async function readWavAtRate(
  file: string,
  rate: number,
  window?: { from: number; to: number },
): Promise<Float32Array | undefined> {
  let wav: InstanceType<typeof wavefile.WaveFile>;
  try {
    if ((await fs.stat(file)).size > MAX_IN_PROCESS_BYTES) return undefined;
    wav = new wavefile.WaveFile(await fs.readFile(file));
  } catch {
    return undefined;
  }
  const fmt = wav.fmt as {
    audioFormat: number;
    numChannels: number;
    sampleRate: number;
    bitsPerSample: number;
    blockAlign: number;
    subformat: number[];
  };
  // 1: integer PCM, 3: IEEE float; WAVE_FORMAT_EXTENSIBLE (0xFFFE) names one of them in its subformat.
  const code = fmt.audioFormat === 0xfffe ? fmt.subformat[0] : fmt.audioFormat;
  const reader = READERS[code === 1 ? `${fmt.bitsPerSample}` : code === 3 ? `${fmt.bitsPerSample}f` : ""];
  const littleEndian = wav.container !== "RIFX";
  if (!reader || !littleEndian || fmt.sampleRate !== rate || fmt.numChannels < 1 || fmt.numChannels > 2)
    return undefined;
  if (fmt.blockAlign !== reader.bytes * fmt.numChannels) return undefined;
  const data = (wav.data as { samples: Uint8Array }).samples;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const frameBytes = reader.bytes * fmt.numChannels;
  const frames = Math.floor(data.byteLength / frameBytes);
  const from = Math.min(frames, window?.from ?? 0);
  const to = Math.min(frames, window?.to ?? frames);
  const out = new Float32Array(Math.max(0, to - from));
  for (let i = 0; i < out.length; i++) {
    const at = (from + i) * frameBytes;
    out[i] =
      fmt.numChannels === 1
        ? reader.read(view, at)
        : (reader.read(view, at) + reader.read(view, at + reader.bytes)) * Math.SQRT1_2;
  }
  return out;
}
