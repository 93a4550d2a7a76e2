import { z } from "zod";

/**
 * Webhook events, payloads and endpoints (docs/architecture.md#webhooks); the ledger keeps
 * them (ledger/webhooks.ts). An endpoint belongs to a tenant and hears every batch
 * of it created after it was registered, or, made by a batch's `webhook` field, that
 * batch only.
 */

export const WEBHOOK_EVENTS = [
  "batch.completed",
  "batch.failed_items",
  "item.succeeded",
  "item.failed",
  "package.ready",
  "package.failed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENTS);

const countsSchema = z.object({
  pending: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
});

const itemRef = z.object({ index: z.number().int(), name: z.string() });

/** The body of every delivery: `{type, timestamp, data}`, as the Standard Webhooks spec suggests. */
export const webhookPayloadSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("batch.completed"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), total: z.number().int(), counts: countsSchema }),
    })
    .describe("Every item of the batch is succeeded or failed."),
  z
    .object({
      type: z.literal("batch.failed_items"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), total: z.number().int(), counts: countsSchema }),
    })
    .describe("Sent with batch.completed when some items failed (counts.failed > 0)."),
  z
    .object({
      type: z.literal("item.succeeded"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        jobKey: z.string(),
        items: z.array(itemRef).describe("The batch's items computed by this job key"),
        counts: countsSchema,
      }),
    })
    .describe("A job key's output is recorded; read it with GET /v1/batches/{batchId}/items."),
  z
    .object({
      type: z.literal("item.failed"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        jobKey: z.string(),
        items: z.array(itemRef),
        error: z.string().optional(),
        counts: countsSchema,
      }),
    })
    .describe("A job key failed for good (attempts exhausted or bad input), with the reason."),
  z
    .object({
      type: z.literal("package.ready"),
      timestamp: z.string(),
      data: z.object({
        batchId: z.string(),
        packageId: z.string(),
        parts: z.array(z.object({ name: z.string(), size: z.number(), sha256: z.string(), url: z.string() })),
        manifest: z.string().nullable(),
        sha256sums: z.string().nullable(),
        linksExpireAt: z
          .string()
          .describe("When the presigned links stop working; GET /v1/packages/{id} signs new ones"),
        expiresAt: z.string().describe("When the package is deleted"),
      }),
    })
    .describe("A package is built; links are presigned GETs."),
  z
    .object({
      type: z.literal("package.failed"),
      timestamp: z.string(),
      data: z.object({ batchId: z.string(), packageId: z.string(), error: z.string().optional() }),
    })
    .describe("A package failed for good; POST /v1/batches/{id}/package again to retry."),
]);
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  /** The event types sent; all of them when the endpoint was made without a filter. */
  events: WebhookEventType[];
  /** `whsec_` + base64 of 24 random bytes (the Standard Webhooks secret form). */
  secret: string;
  /** Set for an endpoint made by a batch's `webhook` field: it hears that batch only. */
  batchId?: string;
  createdAt: string;
}

/** An endpoint as the API shows it: the secret only in the answer that makes or rotates it. */
export const webhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(webhookEventTypeSchema),
  batchId: z.string().optional().describe("Set when the endpoint was made by a batch's webhook field"),
  createdAt: z.string(),
  secret: z.string().optional().describe("whsec_… signing secret, shown only when the endpoint is made or rotated"),
});
export type WebhookEndpointView = z.infer<typeof webhookEndpointSchema>;

/** A batch's own webhook, in a submission. */
export const batchWebhookSchema = z
  .object({
    url: z.string().min(1).max(2048).describe("https URL (http only with WEBHOOK_ALLOW_HTTP=true)"),
    events: z.array(webhookEventTypeSchema).max(20).optional().describe("Event types to send; all when absent"),
  })
  .strict();

/** One finished delivery: delivered, or dead (attempts exhausted, or refused by the address check). */
export interface DeliveryRecord {
  webhookId: string;
  type: WebhookEventType;
  batchId: string;
  attempts: number;
  status?: number;
  error?: string;
  at: string;
}
export const DELIVERY_STATES = ["delivered", "dead"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
