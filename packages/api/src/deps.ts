import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, InferenceJob, Ledger, Logger, PackageJob, Resolve } from "@mediaq/shared";
import type { Queue } from "bullmq";
import type { Registry } from "prom-client";
import type { KeyRing } from "./api-keys.ts";

/** Everything the API talks to; built by startApi, or by a test around its own infra. */
export interface ApiDeps {
  config: Config;
  s3: S3Client;
  /** The only gate to Redis besides BullMQ's queues. */
  ledger: Ledger;
  inferenceQueue: Queue<InferenceJob>;
  packageQueue: Queue<PackageJob>;
  logger: Logger;
  /** API key -> tenant (digests only; reloadable). */
  keys: KeyRing;
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
  /** How webhook hosts are resolved when registered (tests map names to chosen addresses); dns.lookup by default. */
  webhookResolve?: Resolve;
}

/**
 * Body limit of routes that take a few fields or none (upload offers, packaging, retry,
 * cancel): only batch submissions may use MAX_JSON_BODY_BYTES.
 */
export const SMALL_BODY_BYTES = 4096;

/** S3 accepts at most 5 GiB in one PUT or CopyObject, presigned or not. */
export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** The largest blob or model body the API takes in one request. */
export const maxBlobBytes = (deps: Pick<ApiDeps, "options">): number => deps.options?.maxBlobBytes ?? MAX_SINGLE_PUT;

declare module "fastify" {
  interface FastifyInstance {
    /** The API's Prometheus registry (served by /metrics or on METRICS_PORT). */
    metrics: Registry;
  }
  interface FastifyRequest {
    /** The tenant the Bearer key belongs to; set by the auth plugin on /v1 routes. */
    tenant: string;
  }
}
