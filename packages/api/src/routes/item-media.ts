import { headObject, type ItemView, OUTPUT_KINDS, objectKeys, outputInfoOf, presignGet } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem, notFound } from "../problem.ts";
import type { BatchService } from "../services/batch.service.ts";

const mediaAnswer = z.object({
  index: z.number().int(),
  name: z.string(),
  url: z.string().describe("presigned GET of the output (any kind), served with its content type, plays inline"),
  kind: z.enum(OUTPUT_KINDS).describe("what the output is: video, audio or image"),
  contentType: z.string().describe("the output's MIME type (video/mp4, audio/wav, ...)"),
  extension: z.string().describe("the output's file extension (.mp4, .wav, ...)"),
  video: z.string().describe("deprecated: the same link as url (kept for clients from before outputs had kinds)"),
  poster: z
    .string()
    .nullable()
    .describe("presigned GET of its picture (a video's poster, audio's waveform), JPEG; null when it has none"),
  sha256: z.string(),
  size: z.number().int(),
  expiresAt: z.string(),
});

/** Presigned links to what an item made: its output, of any kind, and the picture beside it (docs/architecture.md#outputs). */
export class ItemMedia {
  private readonly deps: Pick<ApiDeps, "s3" | "config" | "ledger">;
  constructor(deps: Pick<ApiDeps, "s3" | "config" | "ledger">) {
    this.deps = deps;
  }

  private sign(key: string, contentType?: string): Promise<string> {
    const { s3, config } = this.deps;
    return presignGet(s3, config.S3_BUCKET, key, config.PRESIGN_EXPIRES_SECONDS, undefined, contentType);
  }

  /**
   * Finished items with a presigned link to their poster. Signing is local (no request to
   * S3), so a page of 100 costs little; an output made before posters shows a broken image.
   */
  async withPosters(items: ItemView[]): Promise<(ItemView & { poster?: string })[]> {
    const finished = items.filter((i) => i.output);
    const results = await this.deps.ledger.jobs.getResults(finished.map((i) => i.jobKey));
    const outputKeys = new Map(finished.map((item, n) => [item.jobKey, results[n]?.key]));
    return Promise.all(
      items.map(async (item) => {
        const key = outputKeys.get(item.jobKey);
        return key ? { ...item, poster: await this.sign(objectKeys.posterBeside(key)) } : item;
      }),
    );
  }

  /** The player's links to one finished item, whatever its kind (an old result is an mp4 video). */
  async links(item: ItemView & { output: NonNullable<ItemView["output"]> }) {
    const result = await this.deps.ledger.jobs.getResult(item.jobKey);
    if (!result) throw new Error(`job key ${item.jobKey} has an output but no result record`);
    const output = outputInfoOf(result);
    const posterKey = objectKeys.posterBeside(result.key);
    const [url, poster] = await Promise.all([
      this.sign(result.key, output.contentType),
      headObject(this.deps.s3, this.deps.config.S3_BUCKET, posterKey).then((head) =>
        head ? this.sign(posterKey) : null,
      ),
    ]);
    const expiresIn = this.deps.config.PRESIGN_EXPIRES_SECONDS;
    return {
      index: item.index,
      name: item.name,
      url,
      kind: output.kind,
      contentType: output.contentType,
      extension: output.extension,
      video: url,
      poster,
      sha256: item.output.sha256,
      size: item.output.size,
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
    };
  }
}

/** What the web page plays. */
export const itemMediaRoutes: FastifyPluginAsyncZod<{ batches: BatchService; media: ItemMedia }> = async (
  app,
  { batches, media },
) => {
  app.get(
    "/batches/:id/items/:index/media",
    {
      schema: {
        summary: "Presigned links to a finished item's output (video, audio or image) and its picture",
        description: "404 when the batch is not this API key's or has no such item; 409 while it has no output.",
        params: z.object({ id: z.string().min(1).max(200), index: z.coerce.number().int().min(0) }),
        response: { 200: mediaAnswer },
      },
    },
    async (request) => {
      const { id, index } = request.params;
      const batch = await batches.own(request.tenant, id);
      const [item] = (await batches.itemsPage(batch.id, { cursor: index, limit: 1 })).items;
      if (!item || item.index !== index) throw notFound("item", `${id}/${index}`);
      if (item.state !== "succeeded" || !item.output)
        throw new HttpProblem(409, "no-output", "No output yet", `Item ${index} is ${item.state}: it has no output.`);
      return media.links({ ...item, output: item.output });
    },
  );
};
