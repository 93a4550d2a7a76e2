import { z } from "zod";
import { inputsSchema } from "./jobs.ts";
import { ITEM_STATES } from "./ledger/job-results.ts";
import { batchWebhookSchema, webhookEndpointSchema } from "./webhooks.ts";

/**
 * Request and response bodies of the HTTP API (v1), declared once: the API validates and
 * documents with them, the CLI's client types its calls with them.
 */

import { MAX_ITEMS_PER_REQUEST } from "./submission-plan.ts";

// Checked per adapter when items are prepared (every bad item reported); described here for the API docs.
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
      "box mean (default 5); batchSize (default 16). inswapper (face swap; inputs {video, face: a PNG or JPEG}): " +
      "recognizer = tag or SHA-256 of a model registered with adapter=arcface (required; a tag is stored as its " +
      "hash); blend = 0..1, feathering of the pasted face's edge (default 0.3, FaceFusion's face_mask_blur); " +
      "detector, faceMinScore, smoothing as for wav2lip (the two share a video's face track).",
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
  .object({
    model: z.string().min(1),
    items: itemsSchema,
    params: paramsSchema.optional(),
    webhook: batchWebhookSchema
      .optional()
      .describe("Call this URL when items, the batch and its packages finish (signed; secret in the answer)"),
  })
  .strict();
export type CreateBatchBody = z.infer<typeof createBatchBodySchema>;

export const appendItemsBodySchema = z.object({ items: itemsSchema }).strict();
export type AppendItemsBody = z.infer<typeof appendItemsBodySchema>;

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
  finishedAt: z.string().optional(),
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
  state: z.enum([...ITEM_STATES, "cancelled"]),
  error: z.string().optional(),
  output: z.object({ sha256: z.string(), size: z.number() }).optional(),
  face: z
    .object({
      trackKey: z.string().describe("GET /v1/blobs/{video}/face-track shows its boxes"),
      frames: z.number().int(),
      framesWithoutFace: z.number().int().describe("frames with no face, passed through unchanged"),
      note: z.string().optional().describe("e.g. which face of a face swap's source image was used"),
    })
    .optional()
    .describe("the face track the item used (absent when params.box was given)"),
});
export type ItemViewBody = z.infer<typeof itemViewSchema>;

export const itemsPageSchema = z.object({ items: z.array(itemViewSchema), nextCursor: z.string().nullable() });
export type ItemsPage = z.infer<typeof itemsPageSchema>;

export const itemSummarySchema = itemViewSchema.pick({ index: true, name: true, jobKey: true, state: true });

export const submitAnswerSchema = z.object({
  id: z.string(),
  total: z.number().int(),
  counts: countsSchema,
  items: z.array(itemSummarySchema),
  webhook: webhookEndpointSchema.optional().describe("The batch's own webhook endpoint, with its secret (shown once)"),
});
export type SubmitAnswer = z.infer<typeof submitAnswerSchema>;

export const packageStateSchema = z.enum(["queued", "building", "ready", "failed"]);

export const packageRequestAnswerSchema = z.object({ id: z.string(), state: packageStateSchema });

const link = z.object({ url: z.string() }).nullable();
export const packageViewSchema = z.object({
  id: z.string(),
  state: packageStateSchema,
  batchId: z.string(),
  parts: z.array(z.object({ name: z.string(), size: z.number(), sha256: z.string(), url: z.string() })),
  manifest: link,
  sha256sums: link,
  expiresAt: z.string(),
  bytesWritten: z.number().optional(),
  totalBytes: z.number().optional(),
  error: z.string().optional(),
});
export type PackageView = z.infer<typeof packageViewSchema>;
