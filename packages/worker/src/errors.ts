/**
 * Input that can never work however often it is retried: unreadable or empty media, a model
 * that is not ONNX or does not fit its adapter, bad params. The message is shown to the
 * person who submitted the item, so it says what is wrong and with which input.
 */
export class BadInputError extends Error {
  override name = "BadInputError";
}

/** The worker is shutting down and gives the job back to the queue unfinished. */
export class HandBackError extends Error {
  override name = "HandBackError";
  constructor() {
    super("worker shutting down; job handed back to the queue");
  }
}
