import { Readable } from "node:stream";
import { adapterNameSchema, channelOrderSchema, channelsOf, sha256Schema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { storeBlob } from "../blob-store.ts";
import { type ApiDeps, maxBlobBytes } from "../deps.ts";
import { acceptRawBodies, closeOnError, refuseLargerThan } from "./raw-body.ts";

/** `wav2lip@prod`, `lipsync-v2`, ... — printable, no spaces, no slashes. */
export const modelTagSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$/, "expected a tag such as wav2lip@prod (letters, digits, ._@:+-)");

const modelSchema = z.object({
  tag: z.string(),
  sha256: sha256Schema,
  adapter: adapterNameSchema,
  channels: channelOrderSchema.describe("colour channel order the model expects in its image tensors"),
});

export const modelRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { s3, ledger, config } = deps;

  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.withTypeProvider<ZodTypeProvider>().post(
      "/models",
      {
        onRequest: refuseLargerThan(maxBlobBytes(deps)),
        schema: {
          summary: "Upload an ONNX model and point a tag at it",
          querystring: z.object({
            tag: modelTagSchema,
            adapter: adapterNameSchema,
            channels: channelOrderSchema
              .optional()
              .describe("colour channel order the model was trained on; default: the adapter's (wav2lip: bgr)"),
          }),
          response: { 201: modelSchema },
        },
      },
      async (request, reply) => {
        const { tag, adapter } = request.query;
        const channels = channelsOf(request.query);
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const blob = await closeOnError(reply, () => storeBlob(s3, config.S3_BUCKET, body, maxBlobBytes(deps)));
        await ledger.assets.grantBlob(request.tenant, blob.sha256);
        await ledger.assets.setModel(request.tenant, { tag, sha256: blob.sha256, adapter, channels });
        return reply.code(201).send({ tag, sha256: blob.sha256, adapter, channels });
      },
    );
  });

  app.get(
    "/models",
    { schema: { summary: "This tenant's model tags", response: { 200: z.object({ models: z.array(modelSchema) }) } } },
    async (request) => ({
      models: (await ledger.assets.listModels(request.tenant)).map((m) => ({ ...m, channels: channelsOf(m) })),
    }),
  );
};
