import type { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { type InferenceJob, QUEUES } from "./jobs.ts";
import type { Ledger } from "./ledger/index.ts";

/** BullMQ's own options to run a failed or completed job again as if new. */
const AS_NEW = { resetAttemptsMade: true, resetAttemptsStarted: true } as const;

/**
 * Makes each job key's queue job runnable: the ledger decided they must run (submit, append,
 * retry, outbox repair, restore). Returns the job keys that could not be made runnable yet;
 * their outbox entries stay, and the next repair offers them again
 * (docs/architecture.md#queue-writes-after-ledger-writes).
 *
 * - No job: added under the job key.
 * - Waiting, delayed, running or waiting for its segments: left alone (the same work never
 *   runs twice at once).
 * - Finished (completed or failed, kept a while): removed and added as new. BullMQ refuses to
 *   remove a long item's job while one of its segments is locked (a worker runs it); then the
 *   job is moved back to wait as BullMQ's retry does, and its segments' flow goes on.
 * - Waiting with a deferred failure (a segment failed and BullMQ will fail the item's job as
 *   soon as a worker takes it): removed and added as new; if a segment is locked it cannot
 *   be, and it is deferred: the worker that fails it runs it again (queue-failures.ts in the
 *   worker), and the outbox entry stays until then.
 *
 * One pipelined read tells which job keys need a look at all, so a submit of 10,000 new
 * items costs one round trip plus the add.
 */
export async function enqueueInference(
  queue: Queue<InferenceJob>,
  jobs: InferenceJob[],
  redis: Redis,
): Promise<{ deferred: string[] }> {
  const unique = [...new Map(jobs.map((j) => [j.jobKey, j])).values()];
  if (unique.length === 0) return { deferred: [] };
  // `redis` is the connection the queue was made with (its job hashes live there).
  const pipe = redis.pipeline();
  for (const j of unique) pipe.hmget(queue.toKey(j.jobKey), "finishedOn", "defa");
  const replies = (await pipe.exec()) ?? [];
  const toAdd: InferenceJob[] = [];
  const deferred: string[] = [];
  for (const [i, data] of unique.entries()) {
    const [finishedOn, deferredFailure] = (replies[i]?.[1] ?? []) as (string | null)[];
    if (!finishedOn && !deferredFailure) {
      toAdd.push(data); // new, or live: the add is a no-op for a live job
      continue;
    }
    if ((await queue.remove(data.jobKey)) === 1) {
      toAdd.push(data);
      continue;
    }
    const job = await queue.getJob(data.jobKey);
    if (!job) toAdd.push(data);
    else if (!(await runAgain(job))) deferred.push(data.jobKey);
  }
  await queue.addBulk(toAdd.map((data) => ({ name: QUEUES.inference, data, opts: { jobId: data.jobKey } })));
  return { deferred };
}

/**
 * Moves a finished job back to wait as new (BullMQ's Job.retry), without its hand-back
 * count. False when it is not finished: it waits with a deferred failure, or another caller
 * ran it again first (then it is waiting or running, which is what was asked).
 */
export async function runAgain(job: Job): Promise<boolean> {
  const state = await job.getState();
  if (state !== "failed" && state !== "completed") return !job.deferredFailure && state !== "unknown";
  const { deaths: _, ...data } = job.data as { deaths?: number };
  await job.updateData(data);
  try {
    await job.retry(state, AS_NEW);
    return true;
  } catch {
    // Not in that state any more: another caller moved it first.
    const now = await job.getState();
    return now === "waiting" || now === "active" || now === "waiting-children" || now === "prioritized";
  }
}

/**
 * Takes the job of a job key no batch waits on any more out of the queue, and returns
 * whether it is gone with nobody waiting. A long item's queued segments go first; a segment
 * or an item a worker holds is locked and stays: it finds no batch waiting, skips, and the
 * item's job deletes its pieces when it comes back (docs/architecture.md#segments).
 *
 * A submit may attach the job key again meanwhile: its queue write saw the job still there
 * and added nothing. So once the job is removed the ledger is read again, and a job key that
 * is pending again gets its job back (false: its pieces are wanted).
 */
export async function withdrawJob(queue: Queue<InferenceJob>, ledger: Ledger, jobKey: string): Promise<boolean> {
  const job = await queue.getJob(jobKey);
  if (!job) return true;
  await job.removeUnprocessedChildren();
  if ((await queue.remove(jobKey).catch(() => 0)) !== 1) return false;
  if ((await ledger.jobs.state(jobKey)).state === undefined) return true;
  const { deaths: _, ...data } = job.data as InferenceJob & { deaths?: number };
  await enqueueInference(queue, [data], ledger.connection());
  return false;
}
