import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  type BlobAnswer,
  computeTrackKey,
  createPresigner,
  dedupScope,
  type FaceTrack,
  type FaceTrackParams,
  headObject,
  objectKeys,
  readFaceTrack,
  type UploadAnswer,
  type UploadRequestBody,
} from "@mediaq/shared";
import { type StoredBlob, stagingKey, storeBlob, verifyStagedBlob } from "../blob-store.ts";
import { type ApiDeps, MAX_SINGLE_PUT, maxBlobBytes } from "../deps.ts";
import { badRequest, HttpProblem, notFound } from "../problem.ts";

/** `<sha256>-<size>-<random>`: what was declared, and a part nobody can guess. */
export const UPLOAD_ID = /^([0-9a-f]{64})-([1-9][0-9]{0,15})-[0-9a-f]{32}$/;

/** A tenant's presigned uploads are staged under a prefix of its own; another tenant's id finds nothing. */
const presignedStagingKey = (tenant: string, uploadId: string) =>
  stagingKey(`${createHash("sha256").update(tenant).digest("hex")}/${uploadId}`);

type Deps = Pick<ApiDeps, "config" | "ledger" | "s3" | "options">;

/** A blob answer with the status it is sent with: 201 when the grant is new to the tenant, else 200. */
export interface Granted {
  status: 200 | 201;
  blob: BlobAnswer;
}

/**
 * Blobs are stored once per content but granted per tenant, and only to a tenant that sent
 * the bytes: hashed by the API while streaming (put), or read back and hashed after a
 * presigned upload (complete). No answer depends on whether another tenant holds the
 * content (docs/architecture.md#blob-grants).
 */
export class BlobService {
  private readonly deps: Deps;
  /** Signs upload URLs for S3_PUBLIC_ENDPOINT when set (docs/architecture.md#presigned-links). */
  private readonly presigner: S3Client;

  constructor(deps: Deps) {
    this.deps = deps;
    this.presigner = createPresigner(deps.config);
  }

  /** The largest body put (and a model upload) takes. */
  get maxBytes(): number {
    return maxBlobBytes(this.deps);
  }

  /** Streams a body into the store, hashing it, and grants it to the tenant. */
  async put(tenant: string, body: Readable): Promise<Granted> {
    const blob = await storeBlob(this.deps.s3, this.deps.config.S3_BUCKET, body, this.maxBytes);
    return { status: await this.grant(tenant, blob), blob };
  }

  /** The blob's size when this tenant was granted it and it is stored; undefined otherwise. */
  async sizeOf(tenant: string, sha256: string): Promise<number | undefined> {
    const [granted] = await this.deps.ledger.assets.hasBlobs(tenant, [sha256]);
    if (!granted) return undefined;
    const head = await headObject(this.deps.s3, this.deps.config.S3_BUCKET, objectKeys.blob(sha256));
    return head ? (head.ContentLength ?? 0) : undefined;
  }

  /**
   * "Already yours" when this tenant holds the blob, else a presigned PUT to a staging key of
   * its own. Only the tenant's own grant decides the answer, never whether the content is stored.
   */
  async offerUpload(tenant: string, { sha256, size }: UploadRequestBody): Promise<UploadAnswer> {
    const { config } = this.deps;
    const held = await this.sizeOf(tenant, sha256);
    if (held !== undefined) return { exists: true, sha256, size: held };
    if (size > MAX_SINGLE_PUT)
      throw badRequest("blob-too-large", `A presigned PUT takes at most 5 GiB; this blob is ${size} bytes.`);
    const expiresIn = config.PRESIGN_EXPIRES_SECONDS;
    const uploadId = `${sha256}-${size}-${randomBytes(16).toString("hex")}`;
    // The SHA-256 and length are signed into the URL, so S3 and MinIO refuse other bytes;
    // completing the upload checks them again for servers that do not.
    const checksum = Buffer.from(sha256, "hex").toString("base64");
    const url = await getSignedUrl(
      this.presigner,
      new PutObjectCommand({
        Bucket: config.S3_BUCKET,
        Key: presignedStagingKey(tenant, uploadId),
        ContentLength: size,
        ChecksumSHA256: checksum,
      }),
      {
        expiresIn,
        unhoistableHeaders: new Set(["x-amz-checksum-sha256"]),
        signableHeaders: new Set(["content-length", "x-amz-checksum-sha256"]),
      },
    );
    return {
      exists: false,
      uploadId,
      url,
      headers: { "content-length": String(size), "x-amz-checksum-sha256": checksum },
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      complete: `/v1/blobs/uploads/${uploadId}`,
    };
  }

  /** Hashes the bytes staged for a presigned upload and grants them; completing twice answers 200. */
  async completeUpload(tenant: string, uploadId: string): Promise<Granted> {
    const { s3, config, ledger } = this.deps;
    const [, sha256 = "", size = "0"] = UPLOAD_ID.exec(uploadId) ?? [];
    const staged = presignedStagingKey(tenant, uploadId);
    if (!(await headObject(s3, config.S3_BUCKET, staged))) {
      // Completed already (the blob is granted), or never uploaded / someone else's id.
      const [granted] = await ledger.assets.hasBlobs(tenant, [sha256]);
      if (granted) return { status: 200, blob: { sha256, size: Number(size) } };
      throw new HttpProblem(
        404,
        "upload-missing",
        "Not found",
        `No uploaded bytes wait for upload "${uploadId}" with this API key: PUT them to the presigned url ` +
          `first. Bytes not completed within ${config.UPLOAD_STAGING_TTL_SECONDS} s are deleted; then ask ` +
          "POST /v1/blobs/uploads for a new upload.",
      );
    }
    const blob = await verifyStagedBlob(s3, config.S3_BUCKET, staged, { sha256, size: Number(size) });
    return { status: await this.grant(tenant, blob), blob };
  }

  /** The face track items on this video computed with these params; 404 until one ran, or when the blob is not the tenant's. */
  async faceTrack(tenant: string, sha256: string, params: FaceTrackParams): Promise<FaceTrack> {
    const { ledger, config, s3 } = this.deps;
    const [granted] = await ledger.assets.hasBlobs(tenant, [sha256]);
    if (!granted) throw notFound("blob", sha256);
    const trackKey = computeTrackKey({ scope: dedupScope(config, tenant), video: sha256, params });
    const record = await ledger.tracks.get(trackKey);
    if (!record) throw notFound("face track of blob", sha256);
    return readFaceTrack(s3, config.S3_BUCKET, record);
  }

  /** Grants a blob the tenant proved it holds: 201 when the grant is new to it, else 200. */
  private async grant(tenant: string, blob: StoredBlob): Promise<200 | 201> {
    const [had] = await this.deps.ledger.assets.hasBlobs(tenant, [blob.sha256]);
    await this.deps.ledger.assets.grantBlob(tenant, blob.sha256);
    return had ? 200 : 201;
  }
}
