import type { Queue } from "bullmq";
import {
  type AdapterName,
  type ChannelOrder,
  channelsOf,
  computeJobKey,
  type InferenceJob,
  type Inputs,
  normalizeParams,
  type SpeechStage,
} from "./jobs.ts";
import type { Attached, BatchItem, BatchRecord, Ledger } from "./ledger/index.ts";
import { enqueueInference } from "./item-jobs.ts";

/**
 * A batch item for the given inputs: params with the adapter's defaults applied and the
 * job key of what it computes. Throws the adapter's ZodError for bad params.
 */
export function toBatchItem(
  o: { scope: string; modelSha256: string; adapter: AdapterName; channels?: ChannelOrder; config?: string },
  input: { name: string; inputs: Inputs; params?: unknown },
  /** The params already normalized (callers that validate each distinct set once). */
  normalized?: Record<string, unknown>,
  /** A script-to-video item's speech stage: its key goes into the item's. */
  speech?: SpeechStage,
): BatchItem {
  const params = normalized ?? normalizeParams(o.adapter, input.params);
  const jobKey = computeJobKey({ ...o, inputs: input.inputs, params, speech: speech?.jobKey });
  return { name: input.name, jobKey, inputs: input.inputs, params, ...(speech ? { speech } : {}) };
}

/** The queue payload that computes a batch item. */
export function inferenceJobFor(
  batch: Pick<BatchRecord, "tenant" | "model" | "adapter" | "channels" | "config">,
  item: BatchItem,
): InferenceJob {
  return {
    jobKey: item.jobKey,
    tenant: batch.tenant,
    model: {
      sha256: batch.model,
      adapter: batch.adapter,
      channels: channelsOf(batch),
      ...(batch.config ? { config: batch.config } : {}),
    },
    inputs: item.inputs,
    params: item.params,
    ...(item.speech ? { speech: item.speech } : {}),
  };
}

/**
 * Writes the queue jobs of outbox entries, then clears the entries. The ledger wrote the
 * entries in the same step that made the items pending, so a writer that dies between
 * the two leaves entries behind, and a repair queues them (repairOutbox). Entries whose job
 * could not be made runnable yet (enqueueInference: deferred) stay for the next repair.
 */
export async function queueOutbox(
  ledger: Ledger,
  queue: Queue<InferenceJob>,
  jobs: { entry: string; job: InferenceJob }[],
): Promise<void> {
  if (jobs.length === 0) return;
  const { deferred } = await enqueueInference(
    queue,
    jobs.map((j) => j.job),
    ledger.connection(),
  );
  const waiting = new Set(deferred);
  await ledger.batches.clearOutbox(jobs.filter((j) => !waiting.has(j.job.jobKey)).map((j) => j.entry));
}

/** Writes the queue jobs of items the ledger just attached (`items` as passed to create/append). */
export async function queueAttached(
  ledger: Ledger,
  queue: Queue<InferenceJob>,
  batch: BatchRecord,
  items: BatchItem[],
  attached: Attached,
): Promise<void> {
  const jobs = attached.outbox.map((entry) => {
    const index = Number(entry.slice(entry.lastIndexOf(":") + 1));
    return { entry, job: inferenceJobFor(batch, items[index - attached.firstIndex] as BatchItem) };
  });
  await queueOutbox(ledger, queue, jobs);
}

/**
 * Creates a batch with its items and queues their work, without the API (tools, tests).
 * Throws if the batch id exists.
 */
export async function submitBatch(
  ledger: Ledger,
  queue: Queue<InferenceJob>,
  batch: BatchRecord,
  items: BatchItem[],
): Promise<Attached> {
  const outcome = await ledger.batches.create(batch, items);
  if (outcome.kind !== "created") throw new Error(`batch ${batch.id} exists already`);
  await queueAttached(ledger, queue, batch, items, outcome);
  return outcome;
}

/**
 * Queues the work of outbox entries whose job key is still pending: those older than
 * `o.olderThanMs` (a writer died between ledger and queue), or every entry of `o.batchId`
 * (a replayed submit heals its own batch before it answers). Returns how many it queued.
 */
export async function repairOutbox(
  ledger: Ledger,
  queue: Queue<InferenceJob>,
  o: { olderThanMs: number } | { batchId: string },
): Promise<number> {
  const entries =
    "batchId" in o ? await ledger.batches.outboxOf(o.batchId) : await ledger.batches.outboxBefore(o.olderThanMs);
  const jobs: { entry: string; job: InferenceJob }[] = [];
  const settled: string[] = [];
  for (const e of entries) {
    const { state } = await ledger.jobs.state(e.item.jobKey);
    if (state === "pending") jobs.push({ entry: e.entry, job: inferenceJobFor(e.batch, e.item) });
    else settled.push(e.entry);
  }
  await ledger.batches.clearOutbox(settled);
  await queueOutbox(ledger, queue, jobs);
  return jobs.length;
}
