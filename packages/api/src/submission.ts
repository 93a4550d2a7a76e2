import {
  type AdapterName,
  BATCH_ADAPTERS,
  DEFAULT_FACE_DETECTOR,
  type BatchItem,
  type BatchRecord,
  type ChannelOrder,
  channelsOf,
  headObject,
  type ItemState,
  inputsSchema,
  objectKeys,
  submitItems,
  toBatchItem,
  MAX_ITEMS_PER_REQUEST,
} from "@mediaq/shared";
import pLimit from "p-limit";
import { z } from "zod";
import type { ApiDeps } from "./deps.ts";
import { badRequest, listSome } from "./problem.ts";

export { MAX_ITEMS_PER_REQUEST };

// Checked per adapter in prepareItems (every bad item reported); described here for the API docs.
const paramsSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "Adapter parameters, defaults applied into the job key; item params override batch params. wav2lip: " +
      "length = audio (default: output as long as the audio, the video loops) | video (as long as the video); " +
      "loop = pingpong (default: forward then back, no frame repeated at a turn) | forward; box = [x, y, width, " +
      "height] in upright pixels, used as given on every frame without pads (Wav2Lip's --box), or null (default: " +
      "find the face with the detector); pads = [top, bottom, left, right] added to detected boxes (default " +
      "[0, 10, 0, 0]); detector = SHA-256 of a model registered with adapter=blazeface (default: the shipped " +
      "BlazeFace); faceMinScore = 0..1 or null (the model's MediaPipe threshold); smoothing = frames in the " +
      "box mean (default 5); batchSize (default 16).",
  );

export const itemNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^\P{Cc}+$/u, "item names cannot contain control characters");

export const itemInputSchema = z
  .object({ name: itemNameSchema, inputs: inputsSchema, params: paramsSchema.optional() })
  .strict();
export type ItemInput = z.infer<typeof itemInputSchema>;

const itemsSchema = z
  .array(itemInputSchema)
  .min(1, "at least one item is needed")
  .max(
    MAX_ITEMS_PER_REQUEST,
    `at most ${MAX_ITEMS_PER_REQUEST} items per request; append more with POST /v1/batches/:id/items`,
  );

export const createBatchBodySchema = z
  .object({ model: z.string().min(1), items: itemsSchema, params: paramsSchema.optional() })
  .strict();
export const appendItemsBodySchema = z.object({ items: itemsSchema }).strict();

export interface ItemSummary {
  index: number;
  name: string;
  jobKey: string;
  state: ItemState;
}

export interface ResolvedModel {
  sha256: string;
  adapter: AdapterName;
  channels: ChannelOrder;
  tag?: string;
}

/** Names given more than once in the list, once each. */
export function duplicateNames(names: string[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const n of names) (seen.has(n) ? dups : seen).add(n);
  return [...dups];
}

/**
 * Applies the adapter's defaults to each item's params (batch params, then the item's own
 * over them) and computes its job key. Every bad item is reported, each with its reason.
 */
export function prepareItems(o: {
  scope: string;
  model: ResolvedModel;
  batchParams: Record<string, unknown>;
  items: ItemInput[];
}): { items: BatchItem[]; errors: string[] } {
  const items: BatchItem[] = [];
  const errors: string[] = [];
  o.items.forEach((input, i) => {
    try {
      const scope = {
        scope: o.scope,
        modelSha256: o.model.sha256,
        adapter: o.model.adapter,
        channels: o.model.channels,
      };
      items.push(toBatchItem(scope, { ...input, params: { ...o.batchParams, ...input.params } }));
    } catch (err) {
      const issues = (err as z.ZodError).issues ?? [{ path: [], message: String(err) }];
      for (const issue of issues) {
        const where = ["params", ...issue.path.map(String)].join(".");
        errors.push(`items[${i}] "${input.name}": ${where}: ${issue.message}`);
      }
    }
  });
  return { items, errors };
}

/** A model tag, or the hash of one of the tenant's models. */
export async function resolveModel(deps: ApiDeps, tenant: string, ref: string): Promise<ResolvedModel> {
  const byTag = await deps.ledger.getModel(tenant, ref);
  const models = byTag ? [] : await deps.ledger.listModels(tenant);
  const found = byTag ?? models.find((m) => m.sha256 === ref);
  if (found && !BATCH_ADAPTERS.includes(found.adapter))
    throw badRequest(
      "not-a-batch-model",
      `Model "${ref}" has adapter ${found.adapter}: it serves other models (a face detector goes in ` +
        `params.detector as its sha256 ${found.sha256}) and cannot run a batch itself.`,
      { model: ref },
    );
  if (byTag) return { sha256: byTag.sha256, adapter: byTag.adapter, channels: channelsOf(byTag), tag: byTag.tag };
  if (found) return { sha256: found.sha256, adapter: found.adapter, channels: channelsOf(found) };
  const known = models.length > 0 ? `known tags: ${listSome(models.map((m) => m.tag))}` : "this key has no models yet";
  throw badRequest(
    "unknown-model",
    `No model "${ref}" for this API key (${known}). Upload one with POST /v1/models?tag=<tag>&adapter=wav2lip.`,
    { model: ref },
  );
}

/** Rejects names used twice in the request or already used in the batch. */
export async function checkNames(deps: ApiDeps, batchId: string | undefined, items: ItemInput[]): Promise<void> {
  const names = items.map((i) => i.name);
  const dups = duplicateNames(names);
  if (dups.length > 0)
    throw badRequest("duplicate-names", `Item names must be unique in a batch; repeated: ${listSome(dups)}.`, {
      duplicates: dups,
    });
  if (!batchId) return;
  const taken = await deps.ledger.takenNames(batchId, names);
  if (taken.length > 0)
    throw badRequest("duplicate-names", `The batch already has items named: ${listSome(taken)}.`, {
      duplicates: taken,
    });
}

/** The blobs an item reads: its inputs, and a face detector other than the one shipped. */
function blobsUsed(item: BatchItem): string[] {
  const detector = item.params.detector;
  const own = typeof detector === "string" && detector !== DEFAULT_FACE_DETECTOR.sha256;
  return [item.inputs.video, item.inputs.audio, ...(own ? [detector] : [])];
}

/**
 * Every input (and a face detector of the tenant's own) must be a blob this tenant uploaded (or was told exists) and that is in
 * S3 now: a presigned upload is granted when issued, before the bytes arrive.
 */
export async function checkBlobs(deps: ApiDeps, tenant: string, items: BatchItem[]): Promise<void> {
  const hashes = [...new Set(items.flatMap(blobsUsed))];
  const granted = await deps.ledger.hasBlobs(tenant, hashes);
  const limit = pLimit(16);
  const present = await Promise.all(
    hashes.map((h, i) =>
      limit(async () =>
        granted[i] ? (await headObject(deps.s3, deps.config.S3_BUCKET, objectKeys.blob(h))) !== undefined : false,
      ),
    ),
  );
  const missing = hashes.filter((_, i) => !present[i]);
  if (missing.length === 0) return;
  const missingSet = new Set(missing);
  const affected = items.filter((i) => blobsUsed(i).some((h) => missingSet.has(h))).map((i) => i.name);
  throw badRequest(
    "unknown-blobs",
    `${missing.length} input blob(s) are not uploaded for this API key: ${listSome(missing, 10)} ` +
      `(used by ${listSome(affected)}). Upload them with PUT /v1/blobs or POST /v1/blobs/uploads first.`,
    { missing, items: affected.slice(0, 1000) },
  );
}

/** Appends prepared items to a batch and queues their work (see submitItems). */
export async function attachItems(deps: ApiDeps, batch: BatchRecord, items: BatchItem[]): Promise<ItemSummary[]> {
  const { firstIndex, states } = await submitItems(deps.ledger, deps.inferenceQueue, batch, items);
  return items.map((item, i) => ({
    index: firstIndex + i,
    name: item.name,
    jobKey: item.jobKey,
    state: states[i] ?? "pending",
  }));
}

/** Throws a problem listing every item whose params are wrong. */
export function assertNoItemErrors(errors: string[]): void {
  if (errors.length === 0) return;
  throw badRequest("invalid-params", `Some items have invalid params: ${listSome(errors, 10)}`, {
    errors: errors.slice(0, 1000),
  });
}
