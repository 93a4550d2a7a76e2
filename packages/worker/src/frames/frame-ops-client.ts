import { Worker } from "node:worker_threads";
import type { BoxedFrames, FaceOps } from "./frame-ops.ts";

type FrameOpsCall =
  | { type: "crop"; boxed: BoxedFrames; face: Float32Array }
  | { type: "paste"; boxed: BoxedFrames; prediction: Float32Array };
export type FrameOpsRequest = FrameOpsCall & { id: number };
export type FrameOpsReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const THREAD_FILE = new URL("./frame-ops-thread.ts", import.meta.url);

/**
 * Crop and paste on a thread of their own (frame-ops-thread.ts), one per worker process. The
 * frames and the batch's face tensor live in SharedArrayBuffers, so a request carries views,
 * not copies, and the thread writes the crops and pastes in place. A thread that dies fails
 * the requests it held; the next request starts a new one.
 */
export class FrameOpsThread implements FaceOps {
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private nextId = 1;

  /** Starts the thread now: its graphs load before the first job needs them. */
  constructor() {
    this.start();
  }

  cropAll(boxed: BoxedFrames, face: Float32Array): Promise<void> {
    return this.request({ type: "crop", boxed, face }, [face]);
  }

  pasteAll(boxed: BoxedFrames, prediction: Float32Array): Promise<void> {
    return this.request({ type: "paste", boxed, prediction }, []);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private request(msg: FrameOpsCall, written: Float32Array[]): Promise<void> {
    // What the thread writes must be shared memory, or the writes would land in a copy.
    if ([...written, ...msg.boxed.frames].some((a) => !(a.buffer instanceof SharedArrayBuffer)))
      return Promise.reject(new Error("frame ops need frames and faces in shared memory (SharedArrayBuffer)"));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  }

  private start(): Worker {
    const worker = new Worker(THREAD_FILE, { execArgv: [] });
    worker.on("message", (reply: FrameOpsReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiter?.resolve();
      else waiter?.reject(new Error(`frame ops failed: ${reply.message}`));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    worker.on("error", (err) => fail(new Error(`frame-ops thread failed: ${(err as Error).message}`)));
    worker.on("exit", (code) => fail(new Error(`frame-ops thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
