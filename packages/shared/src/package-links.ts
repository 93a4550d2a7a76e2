import type { S3Client } from "@aws-sdk/client-s3";
import { MAX_PRESIGN_SECONDS } from "./config.ts";
import type { PackageRecord } from "./packages.ts";
import { presignGet } from "./s3.ts";

export interface PackageLinks {
  parts: { name: string; size: number; sha256: string; url: string }[];
  manifest: string | null;
  sha256sums: string | null;
  /** When the links stop working: the package's expiry, at most 7 days (the presign cap) ahead. */
  linksExpireAt: string;
}

/** Fresh presigned GETs for a package's parts, manifest and sums; undefined once it expired. */
export async function presignPackageLinks(
  s3: S3Client,
  bucket: string,
  record: PackageRecord,
): Promise<PackageLinks | undefined> {
  const remaining = Math.floor((Date.parse(record.expiresAt) - Date.now()) / 1000);
  if (remaining <= 0) return undefined;
  const expiresIn = Math.min(remaining, MAX_PRESIGN_SECONDS);
  const sign = (key: string, name: string) => presignGet(s3, bucket, key, expiresIn, name);
  return {
    parts: await Promise.all(
      record.parts.map(async (p) => ({ name: p.name, size: p.size, sha256: p.sha256, url: await sign(p.key, p.name) })),
    ),
    manifest: record.manifestKey ? await sign(record.manifestKey, "manifest.json") : null,
    sha256sums: record.sumsKey ? await sign(record.sumsKey, "SHA256SUMS") : null,
    linksExpireAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
  };
}
