import type { BlazeFaceBinding } from "../face/blazeface.ts";
import { fromThread } from "../errors.ts";
import { ThreadClient } from "../thread-rpc.ts";
import type { DetectBatch, DetectReply, ExecutionProvider, LoadReply, ThreadRequest } from "./protocol.ts";
import { type RunRequest, type RunResult, transferable } from "./tensors.ts";

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

// Node runs thread.ts itself (type stripping, see docs/architecture.md "Runtime"), in worker
// threads as in the main thread: no loader or bootstrap is needed, under vitest neither.
const THREAD_FILE = new URL("./thread.ts", import.meta.url);

/**
 * The main thread's side of the inference thread: one per worker process. Requests are
 * answered in order; tensors are shared memory (the lip-sync frame path's batches) or travel
 * as transferred ArrayBuffers (no copy either way); full frames never cross.
 */
export class InferenceThread {
  private readonly thread = new ThreadClient<Request>(THREAD_FILE, "inference thread", fromThread);

  /** Called when the thread died: sessions it held are gone. */
  set onExit(callback: () => void) {
    this.thread.onExit = callback;
  }

  load(o: { model: string; file: string; label: string; provider: ExecutionProvider; deviceId: number }) {
    return this.thread.request<LoadReply>({ type: "load", ...o });
  }

  /**
   * One session.run on named tensors: shared arrays are seen by the thread as they are,
   * others move there and back in the reply (use the reply's arrays afterwards).
   */
  run(model: string, req: RunRequest): Promise<RunResult> {
    return this.thread.request<RunResult>(
      { type: "run", model, feeds: req.feeds, into: req.into, fetch: req.fetch },
      transferable(req.feeds, req.into ?? {}),
    );
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
