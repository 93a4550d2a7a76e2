/** A task run now and then every `intervalSeconds`, one run at a time. */
export interface Periodic {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` at once (unless `o.now` is false: the caller ran it already) and every
 * `intervalSeconds`; a run that fails goes to `onError` and the next one still comes. The
 * timer does not keep the process alive.
 */
export function runPeriodically(
  task: () => Promise<unknown>,
  intervalSeconds: number,
  onError: (err: unknown) => void,
  o: { now?: boolean } = {},
): Periodic {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = running.then(task).catch(onError);
  };
  if (o.now ?? true) run();
  const timer = setInterval(run, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
