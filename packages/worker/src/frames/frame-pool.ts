/**
 * A fixed number of frame buffers, reused for the whole job: decoding waits for a free one,
 * so the frames in flight (and the memory they take) never exceed `capacity`
 * (docs/architecture.md#frame-path).
 */
export class FramePool {
  private readonly free: Uint8Array[] = [];
  private readonly waiters: { resolve(frame: Uint8Array): void; reject(err: unknown): void }[] = [];
  private allocated = 0;

  readonly frameBytes: number;
  readonly capacity: number;

  /** With `shared`, frames live in SharedArrayBuffers, which other threads see without a copy. */
  private readonly shared: boolean;

  constructor(frameBytes: number, capacity: number, o: { shared?: boolean } = {}) {
    this.frameBytes = frameBytes;
    this.capacity = capacity;
    this.shared = o.shared ?? false;
  }

  /** A free frame buffer (contents undefined); waits while all `capacity` are in use. */
  acquire(signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const frame = this.free.pop();
    if (frame) return Promise.resolve(frame);
    if (this.allocated < this.capacity) {
      this.allocated++;
      // Each frame owns its buffer (never Node's shared small-Buffer pool).
      const buffer = this.shared ? new SharedArrayBuffer(this.frameBytes) : new ArrayBuffer(this.frameBytes);
      return Promise.resolve(new Uint8Array(buffer));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: Uint8Array) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(f);
        },
        reject,
      };
      const onAbort = () => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(frame: Uint8Array): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(frame);
    else this.free.push(frame);
  }
}
