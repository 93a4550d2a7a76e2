import { Readable } from "node:stream";
import { adapterNameSchema, channelOrderSchema, channelsOf, sha256Schema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { storeBlob } from "../blob-store.ts";
import { checkFaceSwapModel } from "../face-swap-registration.ts";
import { type ApiDeps, maxBlobBytes } from "../deps.ts";
import { checkModelConfig } from "../voice-registration.ts";
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
  config: sha256Schema
    .optional()
    .describe("SHA-256 of the config blob registered with the model (piper: its .onnx.json)"),
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
            config: sha256Schema
              .optional()
              .describe("piper: SHA-256 of the voice's .onnx.json, uploaded as a blob first (required for piper)"),
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
        const voiceConfig = request.query.config;
        await checkModelConfig(deps, request.tenant, { adapter, model: blob.sha256, config: voiceConfig });
        await checkFaceSwapModel(deps, { adapter, model: blob.sha256 });
        const model = { tag, sha256: blob.sha256, adapter, channels, ...(voiceConfig ? { config: voiceConfig } : {}) };
        await ledger.assets.setModel(request.tenant, model);
        return reply.code(201).send(model);
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
