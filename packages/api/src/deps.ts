import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, InferenceJob, Ledger, Logger, PackageJob } from "@mediaq/shared";
import type { Queue } from "bullmq";

/** Everything the API talks to; built by startApi, or by a test around its own infra. */
export interface ApiDeps {
  config: Config;
  s3: S3Client;
  /** The only gate to Redis besides BullMQ's queues. */
  ledger: Ledger;
  inferenceQueue: Queue<InferenceJob>;
  packageQueue: Queue<PackageJob>;
  logger: Logger;
  /** API key -> tenant. */
  apiKeys: Map<string, string>;
  options?: ApiOptions;
}

export interface ApiOptions {
  /** Comment line sent on idle event streams so proxies keep them open (default 15 s). */
  sseHeartbeatMs?: number;
  /**
   * Largest body PUT /v1/blobs accepts (default 5 GiB: the blob is placed with one
   * CopyObject, which S3 caps at 5 GiB; larger files go through presigned uploads).
   */
  maxBlobBytes?: number;
}

/** S3 accepts at most 5 GiB in one PUT or CopyObject, presigned or not. */
export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** The largest blob or model body the API takes in one request. */
export const maxBlobBytes = (deps: ApiDeps): number => deps.options?.maxBlobBytes ?? MAX_SINGLE_PUT;

declare module "fastify" {
  interface FastifyRequest {
    /** The tenant the Bearer key belongs to; set by the auth plugin on /v1 routes. */
    tenant: string;
  }
}
