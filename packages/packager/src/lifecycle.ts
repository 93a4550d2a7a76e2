import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { type Logger, MAX_PRESIGN_SECONDS, objectKeys } from "@mediaq/shared";

/** Every package object lives under this prefix (objectKeys.packagePrefix). */
export const PACKAGES_PREFIX = objectKeys.packagePrefix("").slice(0, -1);

export const LIFECYCLE_RULE_ID = "mediaq-packages-expiry";

/**
 * A backstop to the sweeper: packages live at most 7 days (the presign cap), so the bucket
 * itself deletes objects under packages/ a day after that, and aborts multipart uploads a
 * killed packager left behind (they are never visible as objects, but they cost storage).
 */
export function packageLifecycleRule(): LifecycleRule {
  return {
    ID: LIFECYCLE_RULE_ID,
    Status: "Enabled",
    Filter: { Prefix: PACKAGES_PREFIX },
    Expiration: { Days: Math.ceil(MAX_PRESIGN_SECONDS / 86_400) + 1 },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
  };
}

const UNSUPPORTED = new Set(["NotImplemented", "MethodNotAllowed", "NotSupported", "XNotImplemented"]);

/**
 * Installs (or updates) the packages/ rule, keeping the bucket's other rules: a PUT
 * replaces the whole configuration. Returns "unsupported" when the server has no
 * lifecycle API (s3rver), after one info line; the sweeper alone then expires packages.
 */
export async function installPackageLifecycle(
  s3: S3Client,
  bucket: string,
  logger: Logger,
): Promise<"installed" | "unchanged" | "unsupported"> {
  let rules: LifecycleRule[] = [];
  try {
    const current = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    rules = current.Rules ?? [];
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    if (UNSUPPORTED.has(name) || isUnsupportedStatus(err)) return unsupported(logger, bucket, name);
    if (name !== "NoSuchLifecycleConfiguration") throw err;
  }
  const wanted = packageLifecycleRule();
  const existing = rules.find((r) => r.ID === LIFECYCLE_RULE_ID);
  if (existing && JSON.stringify(normalize(existing)) === JSON.stringify(normalize(wanted))) return "unchanged";
  try {
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [...rules.filter((r) => r.ID !== LIFECYCLE_RULE_ID), wanted] },
      }),
    );
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    if (UNSUPPORTED.has(name) || isUnsupportedStatus(err)) return unsupported(logger, bucket, name);
    throw err;
  }
  logger.info({ bucket, rule: wanted }, "installed lifecycle rule for packages/");
  return "installed";
}

function isUnsupportedStatus(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 501 || status === 405;
}

function unsupported(logger: Logger, bucket: string, name: string): "unsupported" {
  logger.info(
    { bucket, error: name },
    "the S3 server has no lifecycle API; expired packages are deleted by the sweeper alone",
  );
  return "unsupported";
}

const normalize = (r: LifecycleRule) => ({
  s: r.Status,
  p: r.Filter?.Prefix ?? r.Prefix,
  d: r.Expiration?.Days,
  a: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
});
