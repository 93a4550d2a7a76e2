import { Readable } from "node:stream";
import { modelAnswerSchema, modelListSchema, modelQuerySchema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import type { BlobService } from "../services/blob.service.ts";
import type { ModelService } from "../services/model.service.ts";
import { acceptRawBodies, closeOnError, refuseLargerThan } from "./raw-body.ts";

export const modelRoutes: FastifyPluginAsyncZod<{ models: ModelService; blobs: BlobService }> = async (
  app,
  { models, blobs },
) => {
  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.withTypeProvider<ZodTypeProvider>().post(
      "/models",
      {
        onRequest: refuseLargerThan(blobs.maxBytes),
        schema: {
          operationId: "registerModel",
          tags: ["models"],
          summary: "Upload an ONNX model and point a tag at it",
          problems: [413],
          rawBody: "The ONNX file's bytes",
          querystring: modelQuerySchema,
          response: { 201: modelAnswerSchema },
        },
      },
      async (request, reply) => {
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const model = await closeOnError(reply, () => models.register(request.tenant, request.query, body));
        return reply.code(201).send(model);
      },
    );
  });

  app.get(
    "/models",
    {
      schema: {
        operationId: "listModels",
        tags: ["models"],
        summary: "This tenant's model tags",
        response: { 200: modelListSchema },
      },
    },
    async (request) => ({ models: await models.list(request.tenant) }),
  );
};
