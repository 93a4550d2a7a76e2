import { MAX_PRESIGN_SECONDS, packageRequestAnswerSchema, packageViewSchema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SMALL_BODY_BYTES } from "../deps.ts";
import type { PackageService } from "../services/package.service.ts";

/** Small enough for tiny test outputs; an item larger than the part size gets a part of its own. */
const MIN_PART_SIZE = 16 * 1024;
const idParams = z.object({ id: z.string().min(1).max(200) });

export const packageRoutes: FastifyPluginAsyncZod<{ packages: PackageService }> = async (app, { packages }) => {
  app.post(
    "/batches/:id/packages",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        operationId: "createPackage",
        tags: ["packages"],
        summary: "Package the batch's outputs into ZIP parts (asking twice returns the same package)",
        problems: [404, 409],
        params: idParams,
        body: z
          .object({
            partSize: z
              .number()
              .int()
              .min(MIN_PART_SIZE, `partSize must be at least ${MIN_PART_SIZE} bytes`)
              .optional(),
            expiresIn: z
              .number()
              .int()
              .min(60)
              .max(MAX_PRESIGN_SECONDS, `links expire after at most ${MAX_PRESIGN_SECONDS} seconds (7 days)`)
              .optional(),
          })
          .strict()
          .default({}),
        response: { 202: packageRequestAnswerSchema },
      },
    },
    async (request, reply) =>
      reply.code(202).send(await packages.request(request.tenant, request.params.id, request.body)),
  );

  app.get(
    "/packages/:id",
    {
      schema: {
        operationId: "getPackage",
        tags: ["packages"],
        summary: "A package with fresh presigned links",
        problems: [404],
        params: idParams,
        response: { 200: packageViewSchema },
      },
    },
    async (request) => packages.get(request.tenant, request.params.id),
  );
};
