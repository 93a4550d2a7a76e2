import type { Queue } from "bullmq";
import {
  type AdapterName,
  type ChannelOrder,
  channelsOf,
  computeJobKey,
  type InferenceJob,
  type Inputs,
  normalizeParams,
} from "./jobs.ts";
import type { BatchItem, BatchRecord, ItemState, Ledger } from "./ledger.ts";
import { enqueueInference } from "./queues.ts";

/**
 * A batch item for the given inputs: params with the adapter's defaults applied and the
 * job key of what it computes. Throws the adapter's ZodError for bad params.
 */
export function toBatchItem(
  o: { scope: string; modelSha256: string; adapter: AdapterName; channels?: ChannelOrder },
  input: { name: string; inputs: Inputs; params?: unknown },
): BatchItem {
  const params = normalizeParams(o.adapter, input.params);
  const jobKey = computeJobKey({ ...o, inputs: input.inputs, params });
  return { name: input.name, jobKey, inputs: input.inputs, params };
}

/** The queue payload that computes a batch item. */
export function inferenceJobFor(
  batch: Pick<BatchRecord, "tenant" | "model" | "adapter" | "channels">,
  item: BatchItem,
): InferenceJob {
  return {
    jobKey: item.jobKey,
    tenant: batch.tenant,
    model: { sha256: batch.model, adapter: batch.adapter, channels: channelsOf(batch) },
    inputs: item.inputs,
    params: item.params,
  };
}

/**
 * Appends items to a batch and queues the work that has no result yet. Every job key
 * still pending goes to enqueueInference, not only the fresh ones: it leaves waiting and
 * running jobs alone and re-adds one that was lost (the writer died between the ledger
 * write and the queue write, or a cancel removed it).
 */
export async function submitItems(
  ledger: Ledger,
  queue: Queue<InferenceJob>,
  batch: BatchRecord,
  items: BatchItem[],
): Promise<{ firstIndex: number; states: ItemState[] }> {
  const { firstIndex, states } = await ledger.appendItems(batch.id, items);
  const jobs = new Map<string, InferenceJob>();
  items.forEach((item, i) => {
    if (states[i]?.state === "pending") jobs.set(item.jobKey, inferenceJobFor(batch, item));
  });
  await enqueueInference(queue, [...jobs.values()]);
  return { firstIndex, states: states.map((s) => s.state) };
}
