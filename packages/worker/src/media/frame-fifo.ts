import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const openFd = promisify(fs.open);
const readFd = async (fd: number, into: Uint8Array, offset: number, length: number) =>
  (await promisify(fs.read)(fd, into, offset, length, null)).bytesRead;

/**
 * A FIFO that ffmpeg writes raw frames into and Node reads with fs.read straight into frame
 * buffers: no Buffer per pipe chunk (docs/architecture.md#frame-path). Node holds a write end
 * of its own until `writerDone` (ffmpeg's exit), so opening either end never blocks a
 * threadpool thread, and a read sees end of file only once ffmpeg has exited.
 */
export class FrameFifo {
  readonly path: string;
  private readonly dir: string;
  private readonly reader: number;
  private holder: number | undefined;

  private constructor(dir: string, fifo: string, reader: number, holder: number) {
    this.dir = dir;
    this.path = fifo;
    this.reader = reader;
    this.holder = holder;
  }

  static async open(): Promise<FrameFifo> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "mediaq-frames-"));
    const fifo = path.join(dir, "frames");
    try {
      await execFileAsync("mkfifo", ["-m", "600", fifo]);
      const holder = await openFd(fifo, fs.constants.O_RDWR); // Linux: never blocks on a FIFO
      const reader = await openFd(fifo, fs.constants.O_RDONLY); // a writer exists: no wait
      return new FrameFifo(dir, fifo, reader, holder);
    } catch (err) {
      await fs.promises.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** ffmpeg has exited: once the FIFO is drained, reads return end of file. */
  readonly writerDone = (): void => {
    if (this.holder === undefined) return;
    fs.closeSync(this.holder);
    this.holder = undefined;
  };

  /** Reads until `bytes` bytes are in `into` or the FIFO ends; returns how many were read. */
  async readInto(into: Uint8Array, bytes: number): Promise<number> {
    let filled = 0;
    while (filled < bytes) {
      const n = await readFd(this.reader, into, filled, bytes - filled);
      if (n === 0) break;
      filled += n;
    }
    return filled;
  }

  async close(): Promise<void> {
    this.writerDone();
    fs.closeSync(this.reader);
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}
