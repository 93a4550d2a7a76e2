/** One side waiting for the other: wait() resolves at the next wake(). */
class Wakeup {
  private resolve?: () => void;
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }
  wake(): void {
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.();
  }
}

/**
 * A bounded queue between two stages: runs `source` ahead of its consumer, holding at most
 * `capacity` finished items, so both stages work at the same time while memory stays bounded.
 * An error in the source reaches the consumer after the items produced before it.
 */
export async function* ahead<T>(source: AsyncIterable<T>, capacity: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  const consumer = new Wakeup();
  const producer = new Wakeup();
  let finished = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  void (async () => {
    try {
      while (!stopped) {
        if (queue.length >= capacity) {
          await producer.wait();
          continue;
        }
        const next = await it.next();
        if (next.done) break;
        queue.push(next.value);
        consumer.wake();
      }
    } catch (error) {
      failure = { error };
    }
    finished = true;
    consumer.wake();
  })();
  try {
    for (;;) {
      if (queue.length > 0) {
        const item = queue.shift() as T;
        producer.wake();
        yield item;
      } else if (failure) throw failure.error;
      else if (finished) return;
      else await consumer.wait();
    }
  } finally {
    // The consumer stopped (done, or failed): the source is closed once its pending step
    // settles (a failed job's abort signal ends any wait inside it).
    stopped = true;
    producer.wake();
    if (!finished) void it.return?.(undefined).catch(() => {});
  }
}
