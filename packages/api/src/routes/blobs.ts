import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  computeTrackKey,
  dedupScope,
  faceTrackParamsSchema,
  headObject,
  readFaceTrack,
  objectKeys,
  sha256Schema,
} from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { type StoredBlob, stagingKey, storeBlob, verifyStagedBlob } from "../blob-store.ts";
import { type ApiDeps, MAX_SINGLE_PUT, maxBlobBytes, SMALL_BODY_BYTES } from "../deps.ts";
import { badRequest, HttpProblem, notFound } from "../problem.ts";
import { acceptRawBodies, closeOnError, refuseLargerThan } from "./raw-body.ts";

const blobAnswer = z.object({ sha256: sha256Schema, size: z.number().int() });

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const faceTrackAnswer = z.object({
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

/** `<sha256>-<size>-<random>`: what was declared, and a part nobody can guess. */
const UPLOAD_ID = /^([0-9a-f]{64})-([1-9][0-9]{0,15})-[0-9a-f]{32}$/;
const uploadIdSchema = z.string().regex(UPLOAD_ID, "expected an uploadId from POST /v1/blobs/uploads");

/** A tenant's presigned uploads are staged under a prefix of its own; another tenant's id finds nothing. */
const presignedStagingKey = (tenant: string, uploadId: string) =>
  stagingKey(`${createHash("sha256").update(tenant).digest("hex")}/${uploadId}`);

/**
 * Blobs are stored once per content but granted per tenant, and only to a tenant that sent
 * the bytes: hashed by the API while streaming (PUT), or read back and hashed after a
 * presigned upload (complete). No reply depends on whether another tenant holds the
 * content (docs/architecture.md#blob-grants).
 */
export const blobRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { s3, ledger, config } = deps;
  const bucket = config.S3_BUCKET;
  const maxBytes = maxBlobBytes(deps);

  /** Grants a blob the tenant proved it holds: 201 when the grant is new to it, else 200. */
  const grant = async (tenant: string, blob: StoredBlob) => {
    const [had] = await ledger.assets.hasBlobs(tenant, [blob.sha256]);
    await ledger.assets.grantBlob(tenant, blob.sha256);
    return had ? 200 : 201;
  };

  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.put(
      "/blobs",
      {
        onRequest: refuseLargerThan(maxBytes),
        schema: {
          summary: "Upload a blob (raw bytes, streamed and hashed)",
          description: "201 when this API key did not have the blob before, 200 when it did.",
          response: { 200: blobAnswer, 201: blobAnswer },
        },
      },
      async (request, reply) => {
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const blob = await closeOnError(reply, () => storeBlob(s3, bucket, body, maxBytes));
        return reply.code(await grant(request.tenant, blob)).send(blob);
      },
    );
  });

  app.post(
    "/blobs/uploads",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        summary: "Ask for a presigned PUT for a blob of a declared SHA-256",
        description:
          "exists is true only when this API key holds the blob already. Otherwise PUT the bytes to url with " +
          "headers, then POST complete: the API checks the bytes' SHA-256 before granting the blob.",
        body: z.object({ sha256: sha256Schema, size: z.number().int().min(1) }).strict(),
        response: {
          200: z.object({ exists: z.literal(true), sha256: sha256Schema, size: z.number().int() }),
          201: z.object({
            exists: z.literal(false),
            uploadId: z.string(),
            url: z.string(),
            headers: z.record(z.string(), z.string()),
            expiresAt: z.string(),
            complete: z.string(),
          }),
        },
      },
    },
    async (request, reply) => {
      const { sha256, size } = request.body;
      // Only this tenant's own grant decides the answer, never whether the content is stored.
      const [granted] = await ledger.assets.hasBlobs(request.tenant, [sha256]);
      const head = granted ? await headObject(s3, bucket, objectKeys.blob(sha256)) : undefined;
      if (head) return reply.code(200).send({ exists: true as const, sha256, size: head.ContentLength ?? size });
      if (size > MAX_SINGLE_PUT)
        throw badRequest("blob-too-large", `A presigned PUT takes at most 5 GiB; this blob is ${size} bytes.`);
      const expiresIn = config.PRESIGN_EXPIRES_SECONDS;
      const uploadId = `${sha256}-${size}-${randomBytes(16).toString("hex")}`;
      // The SHA-256 and length are signed into the URL, so S3 and MinIO refuse other bytes;
      // completing the upload checks them again for servers that do not.
      const checksum = Buffer.from(sha256, "hex").toString("base64");
      const url = await getSignedUrl(
        s3,
        new PutObjectCommand({
          Bucket: bucket,
          Key: presignedStagingKey(request.tenant, uploadId),
          ContentLength: size,
          ChecksumSHA256: checksum,
        }),
        {
          expiresIn,
          unhoistableHeaders: new Set(["x-amz-checksum-sha256"]),
          signableHeaders: new Set(["content-length", "x-amz-checksum-sha256"]),
        },
      );
      return reply.code(201).send({
        exists: false as const,
        uploadId,
        url,
        headers: { "content-length": String(size), "x-amz-checksum-sha256": checksum },
        expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
        complete: `/v1/blobs/uploads/${uploadId}`,
      });
    },
  );

  app.get(
    "/blobs/:sha256/face-track",
    {
      schema: {
        summary: "The face track of a video blob (its face box on every frame)",
        description:
          "The track computed for items on this video with the given detector params (the defaults when " +
          "omitted). 404 until an item on the video has run, or when the blob is not this key's.",
        params: z.object({ sha256: sha256Schema }),
        querystring: z.object({
          detector: sha256Schema.optional(),
          faceMinScore: z.coerce.number().min(0).max(1).optional(),
          smoothing: z.coerce.number().int().min(1).max(25).optional(),
        }),
        response: { 200: faceTrackAnswer },
      },
    },
    async (request) => {
      const { sha256 } = request.params;
      const [granted] = await ledger.assets.hasBlobs(request.tenant, [sha256]);
      if (!granted) throw notFound("blob", sha256);
      const params = faceTrackParamsSchema.parse(request.query);
      const trackKey = computeTrackKey({ scope: dedupScope(config, request.tenant), video: sha256, params });
      const record = await ledger.tracks.get(trackKey);
      if (!record) throw notFound("face track of blob", sha256);
      return readFaceTrack(s3, bucket, record);
    },
  );

  app.post(
    "/blobs/uploads/:uploadId",
    {
      bodyLimit: SMALL_BODY_BYTES,
      schema: {
        summary: "Complete a presigned upload: the API hashes the uploaded bytes, then grants the blob",
        params: z.object({ uploadId: uploadIdSchema }),
        response: { 200: blobAnswer, 201: blobAnswer },
      },
    },
    async (request, reply) => {
      const { uploadId } = request.params;
      const [, sha256 = "", size = "0"] = UPLOAD_ID.exec(uploadId) ?? [];
      const staged = presignedStagingKey(request.tenant, uploadId);
      if (!(await headObject(s3, bucket, staged))) {
        // Completed already (the blob is granted), or never uploaded / someone else's id.
        const [granted] = await ledger.assets.hasBlobs(request.tenant, [sha256]);
        if (granted) return reply.code(200).send({ sha256, size: Number(size) });
        throw new HttpProblem(
          404,
          "upload-missing",
          "Not found",
          `No uploaded bytes wait for upload "${uploadId}" with this API key: PUT them to the presigned url ` +
            `first. Bytes not completed within ${config.UPLOAD_STAGING_TTL_SECONDS} s are deleted; then ask ` +
            "POST /v1/blobs/uploads for a new upload.",
        );
      }
      const blob = await verifyStagedBlob(s3, bucket, staged, { sha256, size: Number(size) });
      return reply.code(await grant(request.tenant, blob)).send(blob);
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
