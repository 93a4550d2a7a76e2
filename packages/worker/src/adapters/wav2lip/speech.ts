/**
 * The speech stage of a script-to-video item (docs/architecture.md#script-to-video): its
 * result when recorded; otherwise the stage is queued as a child job of the item's job (a
 * BullMQ flow, as segments are) and the item waits for it with WaitingChildrenError. The stage's
 * queue job id is its job key, so items sharing a script in a voice share one synthesis.
 */
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import {
  getObjectStream,
  HashingStream,
  type InferenceJob,
  QUEUES,
  type ResultRecord,
  type SpeechStage,
  speechJobFor,
} from "@mediaq/shared";
import { DelayedError, WaitingChildrenError } from "bullmq";
import { BadInputError } from "../../errors.ts";
import type { JobContext } from "../adapter.ts";

/** How long an item whose speech another item's job is running waits before it looks again. */
export const SPEECH_POLL_MS = 1000;

/** The stage's progress as the item shows it. */
export const SPEECH_STAGE = "speech";

/** The recorded speech of a script-to-video item; until it exists, queues it and waits. */
export async function awaitSpeech(
  ctx: JobContext<unknown>,
  data: InferenceJob & { speech: SpeechStage },
): Promise<ResultRecord> {
  const { deps, log } = ctx;
  const { jobKey } = data.speech;
  const recorded = await deps.ledger.jobs.getResult(jobKey);
  if (recorded) return recorded;
  // A segment runs after its item found the speech; only the item's own job queues it.
  if (!ctx.item) throw new Error(`speech stage ${jobKey.slice(0, 12)} has no recorded result`);
  const { job, token } = ctx.item;

  const existing = await deps.inferenceQueue.getJob(jobKey);
  const state = existing ? await existing.getState() : undefined;
  if (existing && state === "failed") {
    // Removed so that a retry of the item synthesizes again.
    await existing.remove().catch(() => {});
    throw new BadInputError(`the speech stage failed: ${existing.failedReason || "unknown reason"}`);
  }
  // Finished without a result (skipped, or the ledger lost it): run it again.
  if (existing && state === "completed") await existing.remove();

  ctx.progress.report(SPEECH_STAGE, 0, 1);
  try {
    await deps.inferenceQueue.add(QUEUES.inference, speechJobFor(data), {
      jobId: jobKey,
      parent: { id: job.id as string, queue: job.queueQualifiedName },
      // The item comes back when its speech fails too, and fails with the stage's reason.
      ignoreDependencyOnFailure: true,
    });
  } catch (err) {
    // A job has one parent: another item's job waits on this speech already. Look again
    // shortly, without spending an attempt (as an item waits for its face track).
    if (!(err instanceof Error) || !err.message.includes("cannot be replaced")) throw err;
    log.info({ speech: jobKey }, "another item waits on this speech; looking again shortly");
    await job.moveToDelayed(Date.now() + SPEECH_POLL_MS, token);
    throw new DelayedError();
  }
  log.info({ speech: jobKey }, "queued the item's speech stage");
  if (await job.moveToWaitingChildren(token as string)) throw new WaitingChildrenError();
  // The stage had finished already.
  const done = await deps.ledger.jobs.getResult(jobKey);
  if (done) return done;
  throw new Error(`speech stage ${jobKey.slice(0, 12)} finished without a recorded result`);
}

/** Downloads the speech's output (an output object, not a blob) into a file, checked against its hash. */
export async function downloadSpeech(ctx: JobContext<unknown>, result: ResultRecord, file: string): Promise<void> {
  const { s3, config } = ctx.deps;
  const hash = new HashingStream();
  await pipeline(await getObjectStream(s3, config.S3_BUCKET, result.key), hash, fs.createWriteStream(file));
  if (hash.digest() !== result.sha256)
    throw new Error(`speech output ${result.key} does not match its hash (corrupt download?)`);
}
