import { type Job, UnrecoverableError, WaitingError } from "bullmq";

/**
 * What a failed attempt means, decided in one place for every processor (items, segments,
 * face tracks, package parts, webhook deliveries): docs/architecture.md#failure-policy.
 * Errors are types, as BullMQ's own are: `instanceof` decides, never an error's name.
 */

/**
 * Input that can never work however often it is retried: unreadable or empty media, a model
 * that is not ONNX or does not fit its adapter, bad params. The message is shown to the
 * person who submitted the item, so it says what is wrong and with which input. It is an
 * UnrecoverableError, so BullMQ does not retry it.
 */
export class BadInputError extends UnrecoverableError {
  override name = "BadInputError";
}

/**
 * - `hand-back`: the process is shutting down under the job; it goes back to the queue
 *   untouched, no attempt spent (bad input would fail anywhere, so it is final instead);
 * - `final`: BullMQ will not run it again (unrecoverable, or its last attempt);
 * - `retry`: BullMQ runs it again after its backoff.
 */
export type FailureVerdict = "hand-back" | "final" | "retry";

type Attempted = Pick<Job, "attemptsMade" | "opts">;

/** Whether this attempt is the job's last one: BullMQ will not retry whatever it throws. */
export const isLastAttempt = (job: Attempted) => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

/** Whether BullMQ will run the job again after this error. */
export const isFinalFailure = (job: Attempted, err: unknown) => err instanceof UnrecoverableError || isLastAttempt(job);

export function judgeFailure(job: Attempted, err: unknown, o: { shuttingDown?: boolean } = {}): FailureVerdict {
  if (o.shuttingDown && !(err instanceof UnrecoverableError)) return "hand-back";
  return isFinalFailure(job, err) ? "final" : "retry";
}

/** The error to throw to BullMQ for a failure (a thrown non-Error becomes one). */
export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** BullMQ's lock of a job (named as its scripts name it), which the ledger's handBack checks. */
export const lockKeyOf = (job: Pick<Job, "queueQualifiedName" | "id">) => `${job.queueQualifiedName}:${job.id}:lock`;

/**
 * Gives a job back to its queue untouched (no attempt spent), as the worker holding `token`.
 * BullMQ checks the token first; only once the job is back may its ledger state follow
 * (`after`), so a lock that changed hands never marks another worker's running job
 * (docs/architecture.md#failure-policy). Returns the error to throw to BullMQ.
 */
export async function handBackJob(
  job: Pick<Job, "moveToWait">,
  token: string | undefined,
  after?: () => Promise<unknown>,
): Promise<WaitingError> {
  await job.moveToWait(token);
  await after?.();
  return new WaitingError();
}
