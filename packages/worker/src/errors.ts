/** Bad input is the failure policy's (docs/architecture.md#failure-policy). */
export { BadInputError } from "@mediaq/shared";

/** The worker is shutting down and gives the job back to the queue unfinished. */
export class HandBackError extends Error {
  override name = "HandBackError";
  constructor() {
    super("worker shutting down; job handed back to the queue");
  }
}
