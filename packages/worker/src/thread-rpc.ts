/**
 * Request and reply between the main thread and a worker thread of this process: the
 * inference thread (inference/) and the frame-ops thread (frames/). ThreadClient is the main
 * thread's side, serveRequests the thread's.
 */
import { type MessagePort, Worker } from "node:worker_threads";

export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };

/**
 * One worker thread, started on the first request (or by start()), answering requests by id.
 * A thread that dies fails the requests it held (onExit says so); the next request starts a
 * new one, until close().
 */
export class ThreadClient<Request extends { type: string }> {
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Requests not answered yet; close() waits for them (see there). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** Called when the thread died: whatever it held is gone. */
  onExit?: () => void;

  private readonly file: URL;
  /** Names the thread in errors ("inference thread"). */
  private readonly name: string;
  /** Turns a thread's error back into its class (errors.ts fromThread). */
  private readonly rebuild: (error: { name: string; message: string }) => Error;

  /**
   * `rebuild` comes from the caller so that this file, which the threads load too, imports
   * no error classes: those bring @mediaq/shared into every thread.
   */
  constructor(file: URL, name: string, rebuild: (error: { name: string; message: string }) => Error) {
    this.file = file;
    this.name = name;
    this.rebuild = rebuild;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  start(): Worker {
    if (this.worker) return this.worker;
    // A small young generation: the threads make a fresh output buffer per ONNX call (onnxruntime-node
    // allocates outputs), and the default semi-spaces let tens of MB of them pile up per thread before
    // a scavenge, which the frame path's memory bound counts (docs/architecture.md#frame-path).
    const worker = new Worker(this.file, { execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    worker.on("message", (reply: ThreadReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(this.rebuild(reply.error));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
      this.onExit?.();
    };
    worker.on("error", (err) => fail(new Error(`${this.name} failed: ${(err as Error).message}`)));
    worker.on("exit", (code) => fail(new Error(`${this.name} exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** `o.afterClose`: also once closed (the requests close() itself makes). */
  request<T>(msg: Request, transfer: ArrayBuffer[] = [], o: { afterClose?: boolean } = {}): Promise<T> {
    // After close() no new thread is started (a model download that was in flight at
    // shutdown would otherwise start one that nobody terminates).
    if (this.closed && !o.afterClose) return Promise.reject(new Error(`${this.name} is closed`));
    const worker = this.start();
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

  /** Waits for every request to be answered, runs `beforeEnd` (if the thread runs), then ends the thread. */
  async close(beforeEnd?: () => Promise<unknown>): Promise<void> {
    this.closed = true;
    // Terminating the thread while onnxruntime is inside a native call (a model load, a
    // session.run) aborts the whole process ("terminate called after throwing an instance of
    // 'Napi::Error'"). A job handed back at shutdown can leave a request in flight, so let
    // every request be answered first; each is finite.
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    const worker = this.worker;
    if (!worker) return;
    await beforeEnd?.().catch(() => {});
    this.worker = undefined;
    await worker.terminate();
  }
}

/**
 * The thread's side: answers each request with `handle`'s value (its `transfer` list moved,
 * not copied) or its error's name and message.
 */
export function serveRequests<Request extends { id: number }>(
  port: MessagePort | null,
  file: string,
  handle: (msg: Request) => Promise<{ value?: unknown; transfer?: ArrayBuffer[] }>,
): void {
  if (!port) throw new Error(`${file} runs as a worker thread`);
  port.on("message", async (msg: Request) => {
    try {
      const { value, transfer = [] } = await handle(msg);
      port.postMessage({ id: msg.id, ok: true, value } satisfies ThreadReply, transfer);
    } catch (err) {
      const e = err as Error;
      port.postMessage({ id: msg.id, ok: false, error: { name: e.name, message: e.message } } satisfies ThreadReply);
    }
  });
}
