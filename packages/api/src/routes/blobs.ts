import { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { headObject, objectKeys, sha256Schema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { storeBlob } from "../blob-store.ts";
import { type ApiDeps, MAX_SINGLE_PUT, maxBlobBytes } from "../deps.ts";
import { badRequest, notFound } from "../problem.ts";
import { acceptRawBodies, closeOnError } from "./raw-body.ts";

const blobAnswer = z.object({ sha256: sha256Schema, size: z.number().int() });

export const blobRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { s3, ledger, config } = deps;
  const bucket = config.S3_BUCKET;
  const maxBytes = maxBlobBytes(deps);

  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.put(
      "/blobs",
      {
        schema: {
          summary: "Upload a blob (raw bytes, streamed and hashed)",
          response: { 200: blobAnswer, 201: blobAnswer },
        },
      },
      async (request, reply) => {
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const blob = await closeOnError(reply, () => storeBlob(s3, bucket, body, maxBytes));
        await ledger.assets.grantBlob(request.tenant, blob.sha256, true);
        return reply.code(blob.created ? 201 : 200).send({ sha256: blob.sha256, size: blob.size });
      },
    );
  });

  app.post(
    "/blobs/uploads",
    {
      schema: {
        summary: "Ask for a presigned PUT for a blob of a declared SHA-256",
        body: z.object({ sha256: sha256Schema, size: z.number().int().min(1) }).strict(),
        response: {
          200: z.object({ exists: z.literal(true), sha256: sha256Schema, size: z.number().int() }),
          201: z.object({
            exists: z.literal(false),
            url: z.string(),
            headers: z.record(z.string(), z.string()),
            expiresAt: z.string(),
          }),
        },
      },
    },
    async (request, reply) => {
      const { sha256, size } = request.body;
      const key = objectKeys.blob(sha256);
      const head = await headObject(s3, bucket, key);
      if (head) {
        await ledger.assets.grantBlob(request.tenant, sha256, true);
        return reply.code(200).send({ exists: true as const, sha256, size: head.ContentLength ?? size });
      }
      if (size > MAX_SINGLE_PUT)
        throw badRequest("blob-too-large", `A presigned PUT takes at most 5 GiB; this blob is ${size} bytes.`);
      const expiresIn = config.PRESIGN_EXPIRES_SECONDS;
      // The SHA-256 and length are signed into the URL: S3 rejects a body that does not
      // match the declared hash, so nobody can place other bytes under a content address.
      const checksum = Buffer.from(sha256, "hex").toString("base64");
      const url = await getSignedUrl(
        s3,
        new PutObjectCommand({ Bucket: bucket, Key: key, ContentLength: size, ChecksumSHA256: checksum }),
        {
          expiresIn,
          unhoistableHeaders: new Set(["x-amz-checksum-sha256"]),
          signableHeaders: new Set(["content-length", "x-amz-checksum-sha256"]),
        },
      );
      // Granted now: the blob is only usable once the object exists (checked at submit).
      await ledger.assets.grantBlob(request.tenant, sha256);
      return reply.code(201).send({
        exists: false as const,
        url,
        headers: { "content-length": String(size), "x-amz-checksum-sha256": checksum },
        expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      });
    },
  );

  app.head(
    "/blobs/:sha256",
    { schema: { summary: "Does this tenant have the blob?", params: z.object({ sha256: sha256Schema }) } },
    async (request, reply) => {
      const { sha256 } = request.params;
      const [granted] = await ledger.assets.hasBlobs(request.tenant, [sha256]);
      const head = granted ? await headObject(s3, bucket, objectKeys.blob(sha256)) : undefined;
      if (!head) throw notFound("blob", sha256);
      reply.header("content-length", String(head.ContentLength ?? 0));
      return reply.code(200).send();
    },
  );
};
