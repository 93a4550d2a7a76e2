import type { FaceBatch, Wav2LipBinding } from "../adapters/wav2lip.ts";
import type { BlazeFaceBinding } from "../face/blazeface.ts";
import { ThreadClient } from "../thread-rpc.ts";
import {
  batchBuffers,
  type DetectBatch,
  type DetectReply,
  type ExecutionProvider,
  type LoadReply,
  type RunReply,
  type ThreadRequest,
} from "./protocol.ts";

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

// Node runs thread.ts itself (type stripping, see docs/architecture.md "Runtime"), in worker
// threads as in the main thread: no loader or bootstrap is needed, under vitest neither.
const THREAD_FILE = new URL("./thread.ts", import.meta.url);

/**
 * The main thread's side of the inference thread: one per worker process. Requests are
 * answered in order; face and mel inputs and the prediction are shared memory (the frame
 * path's) or travel as transferred ArrayBuffers (no copy either way); full frames never cross.
 */
export class InferenceThread {
  private readonly thread = new ThreadClient<Request>(THREAD_FILE, "inference thread");

  /** Called when the thread died: sessions it held are gone. */
  set onExit(callback: () => void) {
    this.thread.onExit = callback;
  }

  load(o: { model: string; file: string; label: string; provider: ExecutionProvider; deviceId: number }) {
    return this.thread.request<LoadReply>({ type: "load", ...o });
  }

  /** Runs one batch: shared arrays are seen by the thread as they are, others move there and back in the reply. */
  async run(model: string, binding: Wav2LipBinding, batch: FaceBatch) {
    return this.thread.request<RunReply>({ type: "run", model, binding, batch }, batchBuffers(batch));
  }

  /** Finds faces in each frame (the frames are consumed). */
  detect(model: string, binding: BlazeFaceBinding, batch: DetectBatch): Promise<DetectReply> {
    const frames = movable(batch.frames);
    return this.thread.request<DetectReply>(
      { type: "detect", model, binding, ...batch, frames },
      frames.map((f) => f.buffer as ArrayBuffer),
    );
  }

  async release(model?: string): Promise<void> {
    if (this.thread.running) await this.thread.request({ type: "release", model }, [], { afterClose: true });
  }

  /** Answers what is in flight, releases the sessions, then ends the thread. */
  close(): Promise<void> {
    return this.thread.close(() => this.release());
  }
}

/**
 * Frames ready to transfer: one that owns its whole ArrayBuffer moves to the thread; one that
 * shares a buffer (Node's small-Buffer pool) is copied, since detaching the pool would break
 * other Buffers.
 */
function movable(frames: Uint8Array[]): Uint8Array[] {
  return frames.map((f) =>
    f.byteOffset === 0 && f.byteLength === f.buffer.byteLength && f.buffer instanceof ArrayBuffer
      ? f
      : new Uint8Array(f),
  );
}
