import fs from "node:fs/promises";

const HEADER_BYTES = 44;

/**
 * A mono 16-bit PCM WAV file written as it is produced: a header with the sizes left open,
 * then the samples, then the sizes filled in at close. Memory holds one block at a time.
 */
export class WavWriter {
  private samples = 0;
  private readonly file: fs.FileHandle;
  readonly sampleRate: number;

  private constructor(file: fs.FileHandle, sampleRate: number) {
    this.file = file;
    this.sampleRate = sampleRate;
  }

  static async create(path: string, sampleRate: number): Promise<WavWriter> {
    const file = await fs.open(path, "w");
    await file.write(wavHeader(sampleRate, 0));
    return new WavWriter(file, sampleRate);
  }

  get seconds(): number {
    return this.samples / this.sampleRate;
  }

  async write(block: Int16Array): Promise<void> {
    if (block.length === 0) return;
    await this.file.write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
    this.samples += block.length;
  }

  async writeSilence(samples: number): Promise<void> {
    const block = new Int16Array(Math.min(samples, 1 << 16));
    for (let left = samples; left > 0; left -= block.length)
      await this.write(block.subarray(0, Math.min(left, block.length)));
  }

  /** Fills in the sizes and closes the file. */
  async close(): Promise<void> {
    try {
      await this.file.write(wavHeader(this.sampleRate, this.samples), 0, HEADER_BYTES, 0);
    } finally {
      await this.file.close();
    }
  }
}

/** RIFF/WAVE header of mono 16-bit PCM (the canonical 44-byte layout). */
export function wavHeader(sampleRate: number, samples: number): Buffer {
  const data = samples * 2;
  if (HEADER_BYTES - 8 + data > 0xffff_ffff) throw new Error(`${samples} samples do not fit a WAV file's 4 GiB`);
  const h = Buffer.alloc(HEADER_BYTES);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(HEADER_BYTES - 8 + data, 4);
  h.write("WAVE", 8, "ascii");
  h.write("fmt ", 12, "ascii");
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28); // bytes per second
  h.writeUInt16LE(2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write("data", 36, "ascii");
  h.writeUInt32LE(data, 40);
  return h;
}
