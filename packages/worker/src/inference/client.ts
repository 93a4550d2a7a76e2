import { Worker } from "node:worker_threads";
import type { FaceBatch, Wav2LipBinding } from "../adapters/wav2lip.ts";
import { BadInputError } from "../errors.ts";
import type { BlazeFaceBinding } from "../face/blazeface.ts";
import {
  batchBuffers,
  type DetectBatch,
  type DetectReply,
  type ExecutionProvider,
  type LoadReply,
  type RunReply,
  type ThreadReply,
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
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Requests not answered yet; close() waits for them (see there). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** Called when the thread died: sessions it held are gone. */
  onExit?: () => void;

  private start(): Worker {
    const worker = new Worker(THREAD_FILE, { execArgv: [] });
    worker.on("message", (reply: ThreadReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else
        waiter.reject(
          reply.error.name === "BadInputError"
            ? new BadInputError(reply.error.message)
            : Object.assign(new Error(reply.error.message), { name: reply.error.name }),
        );
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
      this.onExit?.();
    };
    worker.on("error", (err) => fail(new Error(`inference thread failed: ${(err as Error).message}`)));
    worker.on("exit", (code) => fail(new Error(`inference thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private request<T>(msg: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    // After close() no new thread is started (a model download that was in flight at
    // shutdown would otherwise start one that nobody terminates).
    if (this.closed && msg.type !== "release") return Promise.reject(new Error("inference thread is closed"));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
    const settled = reply.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    settled.then(() => this.inFlight.delete(settled));
    return reply;
  }

  load(o: { model: string; file: string; label: string; provider: ExecutionProvider; deviceId: number }) {
    return this.request<LoadReply>({ type: "load", ...o });
  }

  /** Runs one batch: shared arrays are seen by the thread as they are, others move there and back in the reply. */
  async run(model: string, binding: Wav2LipBinding, batch: FaceBatch) {
    return this.request<RunReply>({ type: "run", model, binding, batch }, batchBuffers(batch));
  }

  /** Finds faces in each frame (the frames are consumed). */
  detect(model: string, binding: BlazeFaceBinding, batch: DetectBatch): Promise<DetectReply> {
    const frames = movable(batch.frames);
    return this.request<DetectReply>(
      { type: "detect", model, binding, ...batch, frames },
      frames.map((f) => f.buffer as ArrayBuffer),
    );
  }

  async release(model?: string): Promise<void> {
    if (this.worker) await this.request({ type: "release", model });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Terminating the thread while onnxruntime is inside a native call (a model load, a
    // session.run) aborts the whole process ("terminate called after throwing an instance of
    // 'Napi::Error'"). A job handed back at shutdown can leave a model load or a batch in
    // flight, so let every request be answered first; each is finite.
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    const worker = this.worker;
    if (!worker) return;
    await this.release().catch(() => {});
    this.worker = undefined;
    await worker.terminate();
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
