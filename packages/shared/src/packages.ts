import type { Redis } from "ioredis";
import { canonicalJson, sha256Hex } from "./hashing.ts";
import { redisKeys as K } from "./keys.ts";

/** Bump when part layout or entry naming changes: package ids change with it. */
export const PACKAGE_FORMAT_VERSION = "1";

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

export class PackageStore {
  readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async get(id: string): Promise<PackageRecord | undefined> {
    const raw = await this.redis.get(K.package(id));
    return raw ? (JSON.parse(raw) as PackageRecord) : undefined;
  }

  /** Saves a record; the Redis key expires with the package. */
  async save(record: PackageRecord): Promise<void> {
    const ttlMs = Math.max(1000, Date.parse(record.expiresAt) - Date.now());
    await this.redis.set(K.package(record.id), JSON.stringify(record), "PX", ttlMs);
  }

  /** Creates the record unless one lives already; returns the living one. */
  async create(record: PackageRecord): Promise<{ record: PackageRecord; created: boolean }> {
    const ttlMs = Math.max(1000, Date.parse(record.expiresAt) - Date.now());
    const ok = await this.redis.set(K.package(record.id), JSON.stringify(record), "PX", ttlMs, "NX");
    if (ok) return { record, created: true };
    const existing = await this.get(record.id);
    return existing ? { record: existing, created: false } : this.create(record);
  }

  async update(id: string, patch: Partial<PackageRecord>): Promise<PackageRecord | undefined> {
    const current = await this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    await this.save(next);
    return next;
  }
}
