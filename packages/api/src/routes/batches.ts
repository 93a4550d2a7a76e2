import {
  appendItemsBodySchema,
  batchSummarySchema,
  createBatchBodySchema,
  ITEM_STATES,
  itemsPageSchema,
  itemViewSchema,
  submitAnswerSchema,
} from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SMALL_BODY_BYTES } from "../deps.ts";
import type { BatchService } from "../services/batch.service.ts";
import type { ItemMedia } from "./item-media.ts";

const idParams = z.object({ id: z.string().min(1).max(200) });

export const batchRoutes: FastifyPluginAsyncZod<{ batches: BatchService; media: ItemMedia }> = async (
  app,
  { batches, media },
) => {
  app.post(
    "/batches",
    {
      schema: {
        operationId: "createBatch",
        tags: ["batches"],
        summary: "Submit a batch: one job per item, keyed by what it computes",
        problems: [413, 422],
        description:
          "With an Idempotency-Key the same request replays the batch made first (200); another body under the same key is a 422.",
        headers: z.object({ "idempotency-key": z.string().min(1).max(200).optional() }),
        body: createBatchBodySchema,
        response: { 200: submitAnswerSchema, 201: submitAnswerSchema },
      },
    },
    async (request, reply) => {
      const { status, answer } = await batches.create(request.tenant, request.body, request.headers["idempotency-key"]);
      return reply.code(status).send(answer);
    },
  );

  app.get(
    "/batches",
    {
      schema: {
        operationId: "listBatches",
        tags: ["batches"],
        summary: "This tenant's batches, newest first",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ batches: z.array(batchSummarySchema) }) },
      },
    },
    async (request) => ({ batches: await batches.list(request.tenant, request.query.limit) }),
  );

  app.get(
    "/batches/:id",
    {
      schema: {
        operationId: "getBatch",
        tags: ["batches"],
        summary: "Batch status (from counters)",
        params: idParams,
        response: { 200: batchSummarySchema },
        problems: [404],
      },
    },
    async (request) => batches.summary(await batches.own(request.tenant, request.params.id)),
  );

  app.get(
    "/batches/:id/items",
    {
      schema: {
        operationId: "listItems",
        tags: ["batches"],
        summary: "Items in order, paged by index cursor, optionally filtered by state",
        problems: [404],
        params: idParams,
        querystring: z.object({
          state: z.enum([...ITEM_STATES, "cancelled"]).optional(),
          cursor: z.string().regex(/^\d+$/, "expected the nextCursor of an earlier page").optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          posters: z
            .enum(["true", "false"])
            .default("false")
            .describe("true: each finished item carries a presigned link to its poster thumbnail"),
        }),
        response: {
          200: itemsPageSchema.extend({ items: z.array(itemViewSchema.extend({ poster: z.string().optional() })) }),
        },
      },
    },
    async (request) => {
      const batch = await batches.own(request.tenant, request.params.id);
      const { state, cursor, limit, posters } = request.query;
      const page = await batches.itemsPage(batch.id, { cursor: Number(cursor ?? 0), limit, state });
      return posters === "true" ? { ...page, items: await media.withPosters(page.items) } : page;
    },
  );

  app.post(
    "/batches/:id/items",
    {
      schema: {
        operationId: "appendItems",
        tags: ["batches"],
        summary: "Append items to a batch (names must stay unique)",
        problems: [404, 413],
        params: idParams,
        body: appendItemsBodySchema,
        response: { 201: submitAnswerSchema },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await batches.append(request.tenant, request.params.id, request.body)),
  );

  app.post(
    "/batches/:id/retry",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "retryBatch",
        tags: ["batches"],
        summary: "Queue the failed items again",
        problems: [404],
        params: idParams,
        response: { 200: z.object({ retried: z.number().int() }) },
      },
    },
    async (request) => batches.retry(request.tenant, request.params.id),
  );

  app.delete(
    "/batches/:id",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "cancelBatch",
        tags: ["batches"],
        problems: [404],
        summary:
          "Cancel the batch's waiting items, and its long items' queued segments (jobs no other batch waits on are removed)",
        params: idParams,
        response: { 200: z.object({ cancelled: z.number().int() }) },
      },
    },
    async (request) => batches.cancel(request.tenant, request.params.id),
  );
};
