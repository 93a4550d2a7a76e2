/** Bad input is the failure policy's (docs/architecture.md#failure-policy). */
import { BadInputError } from "@mediaq/shared";

export { BadInputError };

/** An error a worker thread sent back (thread-rpc.ts), as its class again: bad input stays bad input. */
export const fromThread = (error: { name: string; message: string }): Error =>
  error.name === "BadInputError"
    ? new BadInputError(error.message)
    : Object.assign(new Error(error.message), { name: error.name });

/** The worker is shutting down and gives the job back to the queue unfinished. */
export class HandBackError extends Error {
  override name = "HandBackError";
  constructor() {
    super("worker shutting down; job handed back to the queue");
  }
}
