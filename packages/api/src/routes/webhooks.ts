import {
  batchWebhookSchema,
  DELIVERY_STATES,
  WEBHOOK_EVENTS,
  webhookEndpointSchema,
  webhookEventTypeSchema,
  webhookPayloadSchema,
} from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SMALL_BODY_BYTES } from "../deps.ts";
import type { WebhookService } from "../services/webhook.service.ts";

const webhookBodySchema = batchWebhookSchema;
const endpointSchema = webhookEndpointSchema;

const deliverySchema = z.object({
  webhookId: z.string(),
  type: webhookEventTypeSchema,
  batchId: z.string(),
  attempts: z.number().int(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  at: z.string(),
});

const idParams = z.object({ id: z.string().regex(/^wh_[0-9a-f]{24}$/, "expected a webhook id (wh_…)") });

export const DELIVERY_DOC = `Each delivery is a POST of one JSON payload (schemas: the webhook payload below), signed as the
Standard Webhooks specification says: headers webhook-id, webhook-timestamp and webhook-signature
(HMAC-SHA256 with the endpoint's whsec_ secret). Deliveries are at least once: the same
webhook-id on every attempt, so receivers deduplicate by it. Attempts back off exponentially
for about a day (WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF_MS), then the delivery is listed under
state=dead. Order is not promised, not even per endpoint. Answer 2xx within WEBHOOK_TIMEOUT_MS;
redirects are not followed.`;

export const webhookRoutes: FastifyPluginAsyncZod<{ webhooks: WebhookService }> = async (
  app,
  { webhooks: service },
) => {
  app.post(
    "/webhooks",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "createWebhook",
        tags: ["webhooks"],
        summary: "Register a webhook endpoint for this tenant's batches created from now on",
        description: DELIVERY_DOC,
        body: webhookBodySchema,
        response: { 201: endpointSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(request.tenant, request.body)),
  );

  app.get(
    "/webhooks",
    {
      schema: {
        operationId: "listWebhooks",
        tags: ["webhooks"],
        summary: "This tenant's webhook endpoints (without secrets)",
        description:
          "Tenant-wide endpoints; with ?batch=<id>, every endpoint that hears that batch, its own `webhook` " +
          "included. A lost secret is shown again by replaying the submit (same Idempotency-Key and body) or " +
          "replaced with POST /v1/webhooks/{id}/rotate.",
        querystring: z.object({ batch: z.string().min(1).max(200).optional() }),
        response: { 200: z.object({ webhooks: z.array(endpointSchema) }) },
      },
    },
    async (request) => ({ webhooks: await service.list(request.tenant, request.query.batch) }),
  );

  app.get(
    "/webhooks/:id",
    {
      schema: {
        operationId: "getWebhook",
        tags: ["webhooks"],
        summary: "One webhook endpoint",
        params: idParams,
        response: { 200: endpointSchema },
        problems: [404],
      },
    },
    async (request) => service.get(request.tenant, request.params.id),
  );

  app.delete(
    "/webhooks/:id",
    {
      schema: {
        operationId: "deleteWebhook",
        tags: ["webhooks"],
        summary: "Remove a webhook endpoint; its pending deliveries are dropped",
        problems: [404],
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await service.delete(request.tenant, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/webhooks/:id/rotate",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "rotateWebhookSecret",
        tags: ["webhooks"],
        summary: "Replace the endpoint's signing secret; the new one is shown once",
        problems: [404],
        params: idParams,
        response: { 200: endpointSchema },
      },
    },
    async (request) => service.rotate(request.tenant, request.params.id),
  );

  app.get(
    "/webhooks/:id/deliveries",
    {
      schema: {
        operationId: "listWebhookDeliveries",
        tags: ["webhooks"],
        summary: "Finished deliveries of an endpoint, newest first: dead letters (state=dead) or delivered",
        problems: [404],
        params: idParams,
        querystring: z.object({
          state: z.enum(DELIVERY_STATES).default("dead"),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }) },
      },
    },
    async (request) => ({
      deliveries: await service.deliveries(request.tenant, request.params.id, request.query.state, request.query.limit),
    }),
  );
};

/** "batch.failed_items" -> "batchFailedItems": an operationId for a generated client. */
const camelCase = (type: string) => type.replace(/[._]([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The deliveries as OpenAPI 3.1 `webhooks`: one POST per event type with its payload
 * schema and the signature headers.
 */
export function webhookDocs(): Record<string, unknown> {
  const schemas = new Map(
    webhookPayloadSchema.options.map((o) => {
      const { $schema: _, ...schema } = z.toJSONSchema(o, { io: "input" });
      return [o.shape.type.value, schema];
    }),
  );
  const header = (description: string) => ({ required: true, schema: { type: "string" }, description });
  return Object.fromEntries(
    WEBHOOK_EVENTS.map((type) => [
      type,
      {
        post: {
          operationId: camelCase(type),
          tags: ["webhooks"],
          summary: schemas.get(type)?.description ?? type,
          description: DELIVERY_DOC,
          parameters: [
            { in: "header", name: "webhook-id", ...header("Same on every attempt of this delivery") },
            { in: "header", name: "webhook-timestamp", ...header("Unix seconds of this attempt") },
            { in: "header", name: "webhook-signature", ...header("v1,<base64 HMAC-SHA256 of id.timestamp.body>") },
          ],
          requestBody: { required: true, content: { "application/json": { schema: schemas.get(type) } } },
          responses: { "2XX": { description: "Delivered; anything else (or no answer) is retried" } },
        },
      },
    ]),
  );
}
