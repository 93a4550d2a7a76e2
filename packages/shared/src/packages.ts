import { canonicalJson, sha256Hex } from "./hashing.ts";

/** Bump when part layout or entry naming changes: package ids change with it. */
// 2: manifest items carry their output's kind and extension, and entries end in it.
export const PACKAGE_FORMAT_VERSION = "2";

export type PackageState = "queued" | "building" | "ready" | "failed";

export interface PackagePart {
  name: string;
  key: string;
  size: number;
  sha256: string;
  /** Item indexes (batch order) stored in this part. */
  items: number[];
}

export interface PackageRecord {
  id: string;
  tenant: string;
  batchId: string;
  partSize: number;
  /**
   * Batch indexes of the items the id was computed from (succeeded items, batch order).
   * When set, the packager packs exactly these; when absent, every item that has a result.
   */
  itemIndexes?: number[];
  createdAt: string;
  expiresAt: string;
  state: PackageState;
  error?: string;
  parts: PackagePart[];
  manifestKey?: string;
  sumsKey?: string;
  /** Bytes of parts written so far, while building. */
  bytesWritten?: number;
  totalBytes?: number;
  /** Names the queue job of the current build (packageJobId). */
  buildId?: string;
}

/** A package is keyed by its batch, the exact results in it, the part size and the format. */
export function computePackageId(o: {
  tenant: string;
  batchId: string;
  partSize: number;
  /** [item name, output sha256] in batch order, succeeded items only. */
  entries: [string, string][];
}): string {
  return sha256Hex(canonicalJson({ v: PACKAGE_FORMAT_VERSION, ...o })).slice(0, 32);
}
