import { headObject, type ItemView, OUTPUT_FILE, objectKeys, POSTER_FILE, presignGet } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ownBatch } from "../batch-views.ts";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem, notFound } from "../problem.ts";

const mediaAnswer = z.object({
  index: z.number().int(),
  name: z.string(),
  video: z.string().describe("presigned GET of the output video, plays inline"),
  poster: z.string().nullable().describe("presigned GET of its poster JPEG, null for outputs made before posters"),
  sha256: z.string(),
  size: z.number().int(),
  expiresAt: z.string(),
});

/**
 * Finished items with a presigned link to their poster. Signing is local (no request to
 * S3), so a page of 100 costs little; an output made before posters shows a broken image.
 */
export async function withPosters(deps: ApiDeps, items: ItemView[]): Promise<(ItemView & { poster?: string })[]> {
  const expiresIn = deps.config.PRESIGN_EXPIRES_SECONDS;
  return Promise.all(
    items.map(async (item) =>
      item.output
        ? {
            ...item,
            poster: await presignGet(
              deps.s3,
              deps.config.S3_BUCKET,
              objectKeys.output(item.jobKey, POSTER_FILE),
              expiresIn,
            ),
          }
        : item,
    ),
  );
}

/** What the web page plays: presigned links to one finished item's output and poster. */
export const itemMediaRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { s3, ledger, config } = deps;
  const bucket = config.S3_BUCKET;

  app.get(
    "/batches/:id/items/:index/media",
    {
      schema: {
        summary: "Presigned links to a finished item's output video and poster thumbnail",
        description: "404 when the batch is not this API key's or has no such item; 409 while it has no output.",
        params: z.object({ id: z.string().min(1).max(200), index: z.coerce.number().int().min(0) }),
        response: { 200: mediaAnswer },
      },
    },
    async (request) => {
      const { id, index } = request.params;
      const batch = await ownBatch(deps, request.tenant, id);
      const [item] = await ledger.itemViews(batch.id, index, 1);
      if (!item || item.index !== index) throw notFound("item", `${id}/${index}`);
      if (item.state !== "succeeded" || !item.output)
        throw new HttpProblem(409, "no-output", "No output yet", `Item ${index} is ${item.state}: it has no output.`);
      const expiresIn = config.PRESIGN_EXPIRES_SECONDS;
      const posterKey = objectKeys.output(item.jobKey, POSTER_FILE);
      const [video, poster] = await Promise.all([
        presignGet(s3, bucket, objectKeys.output(item.jobKey, OUTPUT_FILE), expiresIn),
        headObject(s3, bucket, posterKey).then((head) => (head ? presignGet(s3, bucket, posterKey, expiresIn) : null)),
      ]);
      return {
        index,
        name: item.name,
        video,
        poster,
        sha256: item.output.sha256,
        size: item.output.size,
        expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      };
    },
  );
};
