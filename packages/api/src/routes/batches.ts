import { randomUUID } from "node:crypto";
import {
  type BatchRecord,
  channelsOf,
  enqueueInference,
  type InferenceJob,
  ITEM_STATES,
  inferenceJobFor,
  redisKeys,
} from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  allItemViews,
  batchSummary,
  batchSummarySchema,
  countsSchema,
  itemsPage,
  itemViewSchema,
  ownBatch,
} from "../batch-views.ts";
import { type ApiDeps, SMALL_BODY_BYTES } from "../deps.ts";
import { withPosters } from "./item-media.ts";
import {
  appendItemsBodySchema,
  assertNoItemErrors,
  attachItems,
  checkBlobs,
  checkNames,
  createBatchBodySchema,
  MAX_ITEMS_PER_REQUEST,
  prepareItems,
  resolveModel,
} from "../submission.ts";

const idParams = z.object({ id: z.string().min(1).max(200) });
const itemSummarySchema = itemViewSchema.pick({ index: true, name: true, jobKey: true, state: true });
const submitAnswer = z.object({
  id: z.string(),
  total: z.number().int(),
  counts: countsSchema,
  items: z.array(itemSummarySchema),
});

export const batchRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { ledger, config } = deps;
  const scopeOf = (tenant: string) => (config.DEDUP_SCOPE === "global" ? "global" : tenant);

  app.post(
    "/batches",
    {
      schema: {
        summary: "Submit a batch: one job per item, keyed by what it computes",
        headers: z.object({ "idempotency-key": z.string().min(1).max(200).optional() }),
        body: createBatchBodySchema,
        response: { 200: submitAnswer, 201: submitAnswer },
      },
    },
    async (request, reply) => {
      const tenant = request.tenant;
      const idemKey = request.headers["idempotency-key"];
      const replay = async (id: string) => {
        const batch = await ownBatch(deps, tenant, id);
        const summary = await batchSummary(deps, batch);
        const views = await ledger.itemViews(id, 0, MAX_ITEMS_PER_REQUEST);
        const items = views.map(({ index, name, jobKey, state }) => ({ index, name, jobKey, state }));
        return reply.code(200).send({ id, total: summary.total, counts: summary.counts, items });
      };
      if (idemKey) {
        const earlier = await deps.redis.get(redisKeys.idempotency(tenant, idemKey));
        if (earlier) return replay(earlier);
      }

      const body = request.body;
      await checkNames(deps, undefined, body.items);
      const model = await resolveModel(deps, tenant, body.model);
      const prepared = prepareItems({
        scope: scopeOf(tenant),
        model,
        batchParams: body.params ?? {},
        items: body.items,
      });
      assertNoItemErrors(prepared.errors);
      await checkBlobs(deps, tenant, prepared.items);

      const batch: BatchRecord = {
        id: randomUUID(),
        tenant,
        model: model.sha256,
        ...(model.tag ? { modelTag: model.tag } : {}),
        adapter: model.adapter,
        channels: model.channels,
        params: body.params ?? {},
        createdAt: new Date().toISOString(),
      };
      const { id, created } = await ledger.createBatch(batch, idemKey);
      if (!created) return replay(id);
      const items = await attachItems(deps, batch, prepared.items);
      request.log.info({ batch: id, tenant, items: items.length }, "batch created");
      return reply.code(201).send({ id, total: items.length, counts: await ledger.counts(id), items });
    },
  );

  app.get(
    "/batches",
    {
      schema: {
        summary: "This tenant's batches, newest first",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ batches: z.array(batchSummarySchema) }) },
      },
    },
    async (request) => {
      const ids = await ledger.listBatches(request.tenant, request.query.limit);
      const batches = await Promise.all(
        ids.map(async (id) => {
          const batch = await ledger.getBatch(id);
          return batch ? batchSummary(deps, batch) : undefined;
        }),
      );
      return { batches: batches.filter((b) => b !== undefined) };
    },
  );

  app.get(
    "/batches/:id",
    { schema: { summary: "Batch status (from counters)", params: idParams, response: { 200: batchSummarySchema } } },
    async (request) => batchSummary(deps, await ownBatch(deps, request.tenant, request.params.id)),
  );

  app.get(
    "/batches/:id/items",
    {
      schema: {
        summary: "Items in order, paged by index cursor, optionally filtered by state",
        params: idParams,
        querystring: z.object({
          state: z.enum(ITEM_STATES).optional(),
          cursor: z.string().regex(/^\d+$/, "expected the nextCursor of an earlier page").optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          posters: z
            .enum(["true", "false"])
            .default("false")
            .describe("true: each finished item carries a presigned link to its poster thumbnail"),
        }),
        response: {
          200: z.object({
            items: z.array(itemViewSchema.extend({ poster: z.string().optional() })),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const { state, cursor, limit, posters } = request.query;
      const page = await itemsPage(deps, batch.id, { cursor: Number(cursor ?? 0), limit, state });
      return posters === "true" ? { ...page, items: await withPosters(deps, page.items) } : page;
    },
  );

  app.post(
    "/batches/:id/items",
    {
      schema: {
        summary: "Append items to a batch (names must stay unique)",
        params: idParams,
        body: appendItemsBodySchema,
        response: { 201: submitAnswer },
      },
    },
    async (request, reply) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const body = request.body;
      await checkNames(deps, batch.id, body.items);
      const model = { sha256: batch.model, adapter: batch.adapter, channels: channelsOf(batch) };
      const prepared = prepareItems({
        scope: scopeOf(batch.tenant),
        model,
        batchParams: batch.params,
        items: body.items,
      });
      assertNoItemErrors(prepared.errors);
      await checkBlobs(deps, batch.tenant, prepared.items);
      const items = await attachItems(deps, batch, prepared.items);
      const summary = await batchSummary(deps, batch);
      return reply.code(201).send({ id: batch.id, total: summary.total, counts: summary.counts, items });
    },
  );

  app.post(
    "/batches/:id/retry",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        summary: "Queue the failed items again",
        params: idParams,
        response: { 200: z.object({ retried: z.number().int() }) },
      },
    },
    async (request) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const failed = new Map<string, { job: InferenceJob; items: number }>();
      for await (const view of allItemViews(deps, batch.id)) {
        if (view.state !== "failed") continue;
        const entry = failed.get(view.jobKey);
        if (entry) {
          entry.items++;
          continue;
        }
        const [item] = await ledger.items(batch.id, view.index, 1);
        if (!item) continue;
        failed.set(view.jobKey, { items: 1, job: inferenceJobFor(batch, item) });
      }
      let retried = 0;
      const jobs: InferenceJob[] = [];
      for (const [jobKey, entry] of failed) {
        // failed -> pending moves the counters of every batch waiting on this job key.
        if (await ledger.transition(jobKey, "pending")) {
          retried += entry.items;
          jobs.push(entry.job);
        }
      }
      await enqueueInference(deps.inferenceQueue, jobs);
      return { retried };
    },
  );

  app.delete(
    "/batches/:id",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        summary: "Cancel the batch's waiting items (jobs no other batch waits on are removed)",
        params: idParams,
        response: { 200: z.object({ cancelled: z.number().int() }) },
      },
    },
    async (request) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const pending = new Map<string, number>();
      for await (const view of allItemViews(deps, batch.id))
        if (view.state === "pending") pending.set(view.jobKey, (pending.get(view.jobKey) ?? 0) + 1);
      let cancelled = 0;
      for (const [jobKey, n] of pending) {
        // Detach only once: a second DELETE must not shift the counters again.
        if (!(await ledger.waitingBatches(jobKey)).includes(batch.id)) continue;
        const job = await deps.inferenceQueue.getJob(jobKey);
        if (job && (await job.getState()) === "active") continue; // a worker holds it already
        const left = await ledger.detach(batch.id, jobKey, n, "pending");
        cancelled += n;
        if (left === 0 && job) await job.remove().catch(() => undefined); // it may have just started
      }
      if (cancelled > 0) await deps.redis.hincrby(redisKeys.batch(batch.id), "cancelled", cancelled);
      return { cancelled };
    },
  );
};
