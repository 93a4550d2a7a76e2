import { type BatchRecord, type ItemState, type ItemView, ITEM_STATES, redisKeys } from "@mediaq/shared";
import { z } from "zod";
import type { ApiDeps } from "./deps.ts";
import { notFound } from "./problem.ts";

export const countsSchema = z.object({
  pending: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
});

export const batchSummarySchema = z.object({
  id: z.string(),
  total: z.number().int(),
  counts: countsSchema,
  done: z.boolean(),
  createdAt: z.string(),
  model: z.string(),
  modelTag: z.string().optional(),
  adapter: z.string(),
  cancelled: z.number().int(),
});
export type BatchSummary = z.infer<typeof batchSummarySchema>;

export const itemViewSchema = z.object({
  index: z.number().int(),
  name: z.string(),
  jobKey: z.string(),
  state: z.enum(ITEM_STATES),
  error: z.string().optional(),
  output: z.object({ sha256: z.string(), size: z.number() }).optional(),
  face: z
    .object({
      trackKey: z.string().describe("GET /v1/blobs/{video}/face-track shows its boxes"),
      frames: z.number().int(),
      framesWithoutFace: z.number().int().describe("frames with no face, passed through unchanged"),
    })
    .optional()
    .describe("the face track the item used (absent when params.box was given)"),
});

/** The tenant's batch, or a 404 that looks the same whether it is someone else's or absent. */
export async function ownBatch(deps: ApiDeps, tenant: string, id: string): Promise<BatchRecord> {
  const batch = await deps.ledger.getBatch(id);
  if (!batch || batch.tenant !== tenant) throw notFound("batch", id);
  return batch;
}

/** Status from counters only, so a batch of 10,000 items answers in O(1). */
export async function batchSummary(deps: ApiDeps, batch: BatchRecord): Promise<BatchSummary> {
  const [total, counts, cancelled] = await Promise.all([
    deps.ledger.total(batch.id),
    deps.ledger.counts(batch.id),
    deps.redis.hget(redisKeys.batch(batch.id), "cancelled"),
  ]);
  return {
    id: batch.id,
    total,
    counts,
    done: counts.pending === 0 && counts.running === 0,
    createdAt: batch.createdAt,
    model: batch.model,
    ...(batch.modelTag ? { modelTag: batch.modelTag } : {}),
    adapter: batch.adapter,
    cancelled: Number(cancelled ?? 0),
  };
}

/** Walks a batch's items in order, a page at a time. */
export async function* allItemViews(deps: ApiDeps, batchId: string, pageSize = 500): AsyncGenerator<ItemView> {
  const total = await deps.ledger.total(batchId);
  for (let start = 0; start < total; start += pageSize) {
    for (const view of await deps.ledger.itemViews(batchId, start, pageSize)) yield view;
  }
}

/**
 * One page of items from `cursor` (an item index). With a state filter the scan stops
 * after `scanBudget` items even if the page is not full; nextCursor says where to go on.
 */
export async function itemsPage(
  deps: ApiDeps,
  batchId: string,
  o: { cursor: number; limit: number; state?: ItemState; scanBudget?: number },
): Promise<{ items: ItemView[]; nextCursor: string | null }> {
  const total = await deps.ledger.total(batchId);
  if (!o.state) {
    const items = await deps.ledger.itemViews(batchId, o.cursor, o.limit);
    const next = o.cursor + items.length;
    return { items, nextCursor: next < total ? String(next) : null };
  }
  const budget = o.scanBudget ?? 10_000;
  const items: ItemView[] = [];
  let at = o.cursor;
  while (at < total && items.length < o.limit && at - o.cursor < budget) {
    const page = await deps.ledger.itemViews(batchId, at, Math.min(500, budget));
    for (const view of page) {
      at = view.index + 1;
      if (view.state === o.state) items.push(view);
      if (items.length === o.limit) break;
    }
    if (page.length === 0) break;
  }
  return { items, nextCursor: at < total ? String(at) : null };
}
