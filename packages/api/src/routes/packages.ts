import { computePackageId, MAX_PRESIGN_SECONDS, type PackageRecord, presignPackageLinks } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { allItemViews, ownBatch } from "../batch-views.ts";
import { type ApiDeps, SMALL_BODY_BYTES } from "../deps.ts";
import { HttpProblem, notFound } from "../problem.ts";

/** Small enough for tiny test outputs; an item larger than the part size gets a part of its own. */
const MIN_PART_SIZE = 16 * 1024;
const packageStates = z.enum(["queued", "building", "ready", "failed"]);
const link = z.object({ url: z.string() }).nullable();

export const packageRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { config, packages, packageQueue, s3 } = deps;

  app.post(
    "/batches/:id/packages",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        summary: "Package the batch's outputs into ZIP parts (asking twice returns the same package)",
        params: z.object({ id: z.string().min(1).max(200) }),
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
        response: { 202: z.object({ id: z.string(), state: packageStates }) },
      },
    },
    async (request, reply) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const partSize = request.body.partSize ?? config.PACKAGE_PART_SIZE;
      const expiresIn = request.body.expiresIn ?? config.PRESIGN_EXPIRES_SECONDS;
      // The package holds exactly the items its id is computed from, even if more finish later.
      const entries: [string, string][] = [];
      const itemIndexes: number[] = [];
      for await (const view of allItemViews(deps, batch.id)) {
        if (view.state !== "succeeded" || !view.output) continue;
        entries.push([view.name, view.output.sha256]);
        itemIndexes.push(view.index);
      }
      if (entries.length === 0)
        throw new HttpProblem(409, "nothing-to-package", "Conflict", `Batch ${batch.id} has no succeeded item yet.`);

      const id = computePackageId({ tenant: batch.tenant, batchId: batch.id, partSize, entries });
      const now = Date.now();
      const record: PackageRecord = {
        id,
        tenant: batch.tenant,
        batchId: batch.id,
        partSize,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + expiresIn * 1000).toISOString(),
        state: "queued",
        parts: [],
        itemIndexes,
      };
      let { record: current } = await packages.create(record);
      if (current.state === "failed") {
        current = (await packages.update(id, { state: "queued", error: undefined })) ?? current;
        const job = await packageQueue.getJob(id);
        if (job && (await job.isFailed())) await job.retry("failed");
      }
      // Adding under the same job id is a no-op while BullMQ holds the job, so this also
      // re-queues a record whose job was lost between the two writes.
      if (current.state === "queued") await packageQueue.add("package", { packageId: id }, { jobId: id });
      return reply.code(202).send({ id, state: current.state });
    },
  );

  app.get(
    "/packages/:id",
    {
      schema: {
        summary: "A package with fresh presigned links",
        params: z.object({ id: z.string().min(1).max(200) }),
        response: {
          200: z.object({
            id: z.string(),
            state: packageStates,
            batchId: z.string(),
            parts: z.array(z.object({ name: z.string(), size: z.number(), sha256: z.string(), url: z.string() })),
            manifest: link,
            sha256sums: link,
            expiresAt: z.string(),
            bytesWritten: z.number().optional(),
            totalBytes: z.number().optional(),
            error: z.string().optional(),
          }),
        },
      },
    },
    async (request) => {
      const record = await packages.get(request.params.id);
      if (!record || record.tenant !== request.tenant) throw notFound("package", request.params.id);
      const links = await presignPackageLinks(s3, config.S3_BUCKET, record);
      if (!links) throw notFound("package", request.params.id);
      return {
        id: record.id,
        state: record.state,
        batchId: record.batchId,
        parts: links.parts,
        manifest: links.manifest ? { url: links.manifest } : null,
        sha256sums: links.sha256sums ? { url: links.sha256sums } : null,
        expiresAt: record.expiresAt,
        ...(record.bytesWritten !== undefined ? { bytesWritten: record.bytesWritten } : {}),
        ...(record.totalBytes !== undefined ? { totalBytes: record.totalBytes } : {}),
        ...(record.error ? { error: record.error } : {}),
      };
    },
  );
};
