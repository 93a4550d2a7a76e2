import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const openFd = promisify(fs.open);

/**
 * A FIFO that ffmpeg writes raw frames into and Node reads straight into frame buffers: a
 * socket on the read end with `onread` hands each read the caller's buffer, so there is no
 * Buffer per pipe chunk and no threadpool round trip per read (docs/architecture.md#frame-path).
 * Node holds a write end of its own until `writerDone` (ffmpeg's exit), so opening either end
 * never blocks, and the read end sees end of file only once ffmpeg has exited.
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

  private socket?: net.Socket;
  /** The read in progress: `into` fills up to `bytes`. */
  private target?: { into: Uint8Array; bytes: number; filled: number; done(n: number): void };
  private ended = false;
  private readonly spare = new Uint8Array(1);

  /** Reads until `bytes` bytes are in `into` or the FIFO ends; returns how many were read. */
  readInto(into: Uint8Array, bytes: number): Promise<number> {
    if (this.ended) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.target = { into, bytes, filled: 0, done: resolve };
      if (!this.socket) {
        this.socket = new net.Socket({
          fd: this.reader,
          readable: true,
          writable: false,
          onread: {
            buffer: () => (this.target ? this.target.into.subarray(this.target.filled, this.target.bytes) : this.spare),
            callback: (n: number, buf: Uint8Array) => {
              const t = this.target;
              if (!t) return false;
              // Node asks for the next buffer right after a read completes, before the next
              // readInto sets its target: that one read lands in the 1-byte spare.
              if (buf === this.spare) t.into[t.filled] = this.spare[0] as number;
              t.filled += n;
              if (t.filled < t.bytes) return true;
              this.target = undefined;
              t.done(t.filled);
              return false;
            },
          },
        });
        // End of file (ffmpeg exited) or a read error: the read so far stands; the caller
        // then learns from ffmpeg's exit what happened.
        const end = () => {
          this.ended = true;
          const t = this.target;
          this.target = undefined;
          t?.done(t.filled);
        };
        this.socket.on("end", end).on("error", end);
      } else this.socket.resume();
    });
  }

  async close(): Promise<void> {
    this.writerDone();
    if (this.socket) this.socket.destroy();
    else fs.closeSync(this.reader);
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}
