/**
 * A bounded queue between two stages: runs `source` ahead of its consumer, holding at most
 * `capacity` finished items, so both stages work at the same time while memory stays bounded.
 * An error in the source reaches the consumer after the items produced before it.
 */
export async function* ahead<T>(source: AsyncIterable<T>, capacity: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const wake = (which: "consumer" | "producer") => {
    const fn = which === "consumer" ? wakeConsumer : wakeProducer;
    if (which === "consumer") wakeConsumer = undefined;
    else wakeProducer = undefined;
    fn?.();
  };
  void (async () => {
    try {
      while (!stopped) {
        if (queue.length >= capacity) {
          await new Promise<void>((resolve) => (wakeProducer = resolve));
          continue;
        }
        const next = await it.next();
        if (next.done) break;
        queue.push(next.value);
        wake("consumer");
      }
    } catch (error) {
      failure = { error };
    }
    finished = true;
    wake("consumer");
  })();
  try {
    for (;;) {
      if (queue.length > 0) {
        const item = queue.shift() as T;
        wake("producer");
        yield item;
      } else if (failure) throw failure.error;
      else if (finished) return;
      else await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
  } finally {
    // The consumer stopped (done, or failed): the source is closed once its pending step
    // settles (a failed job's abort signal ends any wait inside it).
    stopped = true;
    wake("producer");
    if (!finished) void it.return?.(undefined).catch(() => {});
  }
}
