import { Readable } from "node:stream";
import {
  blobAnswerSchema,
  faceTrackAnswerSchema,
  faceTrackParamsSchema,
  sha256Schema,
  uploadHeldAnswerSchema,
  uploadOfferSchema,
  uploadRequestBodySchema,
} from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SMALL_BODY_BYTES } from "../deps.ts";
import { notFound } from "../problem.ts";
import { type BlobService, UPLOAD_ID } from "../services/blob.service.ts";
import { acceptRawBodies, closeOnError, refuseLargerThan } from "./raw-body.ts";

const uploadIdSchema = z.string().regex(UPLOAD_ID, "expected an uploadId from POST /v1/blobs/uploads");

/** Blob uploads (streamed or presigned), grants and face tracks (docs/architecture.md#blob-grants). */
export const blobRoutes: FastifyPluginAsyncZod<{ blobs: BlobService }> = async (app, { blobs }) => {
  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.put(
      "/blobs",
      {
        onRequest: refuseLargerThan(blobs.maxBytes),
        schema: {
          operationId: "putBlob",
          tags: ["blobs"],
          summary: "Upload a blob (raw bytes, streamed and hashed)",
          problems: [413],
          rawBody: "The file's bytes, any content type",
          description: "201 when this API key did not have the blob before, 200 when it did.",
          response: { 200: blobAnswerSchema, 201: blobAnswerSchema },
        },
      },
      async (request, reply) => {
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const { status, blob } = await closeOnError(reply, () => blobs.put(request.tenant, body));
        return reply.code(status).send(blob);
      },
    );
  });

  app.post(
    "/blobs/uploads",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "requestUpload",
        tags: ["blobs"],
        summary: "Ask for a presigned PUT for a blob of a declared SHA-256",
        description:
          "exists is true only when this API key holds the blob already. Otherwise PUT the bytes to url with " +
          "headers, then POST complete: the API checks the bytes' SHA-256 before granting the blob.",
        body: uploadRequestBodySchema,
        response: { 200: uploadHeldAnswerSchema, 201: uploadOfferSchema },
      },
    },
    async (request, reply) => {
      const answer = await blobs.offerUpload(request.tenant, request.body);
      return reply.code(answer.exists ? 200 : 201).send(answer);
    },
  );

  app.get(
    "/blobs/:sha256/face-track",
    {
      schema: {
        operationId: "getFaceTrack",
        tags: ["blobs"],
        summary: "The face track of a video blob (its face box on every frame)",
        problems: [404],
        description:
          "The track computed for items on this video with the given detector params (the defaults when " +
          "omitted). 404 until an item on the video has run, or when the blob is not this key's.",
        params: z.object({ sha256: sha256Schema }),
        querystring: z.object({
          detector: sha256Schema.optional(),
          faceMinScore: z.coerce.number().min(0).max(1).optional(),
          smoothing: z.coerce.number().int().min(1).max(25).optional(),
        }),
        response: { 200: faceTrackAnswerSchema },
      },
    },
    async (request) =>
      blobs.faceTrack(request.tenant, request.params.sha256, faceTrackParamsSchema.parse(request.query)),
  );

  app.post(
    "/blobs/uploads/:uploadId",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "completeUpload",
        tags: ["blobs"],
        summary: "Complete a presigned upload: the API hashes the uploaded bytes, then grants the blob",
        problems: [404],
        params: z.object({ uploadId: uploadIdSchema }),
        response: { 200: blobAnswerSchema, 201: blobAnswerSchema },
      },
    },
    async (request, reply) => {
      const { status, blob } = await blobs.completeUpload(request.tenant, request.params.uploadId);
      return reply.code(status).send(blob);
    },
  );

  app.head(
    "/blobs/:sha256",
    {
      // Documented like the GETs (HEAD routes are left out by default); the document calls it blob-head.
      config: { swagger: { exposeHeadRoute: true } },
      schema: {
        operationId: "blob",
        tags: ["blobs"],
        summary: "Does this tenant have the blob?",
        params: z.object({ sha256: sha256Schema }),
        response: { 200: z.null().describe("It has: content-length is the blob's size") },
        problems: [404],
      },
    },
    async (request, reply) => {
      const size = await blobs.sizeOf(request.tenant, request.params.sha256);
      if (size === undefined) throw notFound("blob", request.params.sha256);
      return reply.code(200).header("content-length", String(size)).send(null);
    },
  );
};
