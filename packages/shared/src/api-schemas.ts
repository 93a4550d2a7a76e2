import { z } from "zod";
import { faceTrackParamsSchema } from "./face-track.ts";
import { sha256Schema } from "./hashing.ts";
import { adapterNameSchema, channelOrderSchema, inputsSchema } from "./jobs.ts";
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
      "box mean (default 5); batchSize (default 16); voice = a piper model's tag or SHA-256 that speaks the " +
      "item's text input first (script to video: inputs {video, text}; recorded as the voice's SHA-256). " +
      "inswapper (face swap; inputs {video, face: a PNG or JPEG}): " +
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
  webhook: webhookEndpointSchema
    .optional()
    .describe("The batch's own webhook endpoint, with its secret (shown again on an Idempotency-Key replay)"),
});
export type SubmitAnswer = z.infer<typeof submitAnswerSchema>;

/** One event of a batch's stream (GET /v1/batches/{id}/events), sent as the data of a Server-Sent Event. */
export const batchEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("item"),
    jobKey: z.string(),
    state: z.enum(ITEM_STATES),
    error: z.string().optional(),
  }),
  z.object({ type: z.literal("progress"), jobKey: z.string(), stage: z.string(), done: z.number(), total: z.number() }),
  z.object({
    type: z.literal("package"),
    packageId: z.string(),
    state: z.string(),
    bytes: z.number().optional(),
    totalBytes: z.number().optional(),
  }),
  z.object({ type: z.literal("cancelled"), cancelled: z.number().int() }),
]);
export type BatchEvent = z.infer<typeof batchEventSchema>;

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

export const blobAnswerSchema = z.object({ sha256: sha256Schema, size: z.number().int() });
export type BlobAnswer = z.infer<typeof blobAnswerSchema>;

export const uploadRequestBodySchema = z.object({ sha256: sha256Schema, size: z.number().int().min(1) }).strict();
export type UploadRequestBody = z.infer<typeof uploadRequestBodySchema>;

/** This API key holds the blob already: nothing to upload. */
export const uploadHeldAnswerSchema = z.object({
  exists: z.literal(true),
  sha256: sha256Schema,
  size: z.number().int(),
});

/** PUT the bytes to url with headers, then POST complete. */
export const uploadOfferSchema = z.object({
  exists: z.literal(false),
  uploadId: z.string(),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.string(),
  complete: z.string(),
});
export type UploadOffer = z.infer<typeof uploadOfferSchema>;
export type UploadAnswer = z.infer<typeof uploadHeldAnswerSchema> | UploadOffer;

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);
export const faceTrackAnswerSchema = z.object({
  trackKey: sha256Schema,
  video: sha256Schema,
  detector: sha256Schema,
  params: faceTrackParamsSchema,
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number(),
  frames: z.number().int(),
  framesWithoutFace: z.number().int(),
  boxes: z.array(box.nullable()).describe("per frame: the face box [x1, y1, x2, y2] in pixels, null = no face"),
  format: z.number().int().optional().describe("track.json's format: 2 has keypoints; absent: 1 (boxes only)"),
  keypoints: z
    .array(z.array(z.number()).length(12).nullable())
    .optional()
    .describe(
      "per frame: the face's six keypoints [x0, y0, ..., x5, y5] in pixels (right eye, left eye, nose tip, " +
        "mouth centre, right and left ear tragion), null = no face; absent in tracks of format 1",
    ),
});
export type FaceTrackAnswer = z.infer<typeof faceTrackAnswerSchema>;

/** `wav2lip@prod`, `lipsync-v2`, ... — printable, no spaces, no slashes. */
export const modelTagSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$/, "expected a tag such as wav2lip@prod (letters, digits, ._@:+-)");

export const modelQuerySchema = z.object({
  tag: modelTagSchema,
  adapter: adapterNameSchema,
  channels: channelOrderSchema
    .optional()
    .describe("colour channel order the model was trained on; default: the adapter's (wav2lip: bgr)"),
  config: sha256Schema
    .optional()
    .describe("piper: SHA-256 of the voice's .onnx.json, uploaded as a blob first (required for piper)"),
});
export type ModelQuery = z.infer<typeof modelQuerySchema>;

export const modelAnswerSchema = z.object({
  tag: z.string(),
  sha256: sha256Schema,
  adapter: adapterNameSchema,
  channels: channelOrderSchema.describe("colour channel order the model expects in its image tensors"),
  config: sha256Schema
    .optional()
    .describe("SHA-256 of the config blob registered with the model (piper: its .onnx.json)"),
});
export type ModelAnswer = z.infer<typeof modelAnswerSchema>;

export const modelListSchema = z.object({ models: z.array(modelAnswerSchema) });
