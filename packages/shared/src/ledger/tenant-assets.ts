import type { Redis } from "ioredis";
import type { AdapterName } from "../jobs.ts";
import { redisKeys as K } from "./keys.ts";

export interface ModelRecord {
  tag: string;
  sha256: string;
  adapter: AdapterName;
}

/** What a tenant owns besides batches: model tags, and the blobs it sent the bytes of. */
export class TenantAssets {
  constructor(private readonly redis: Redis) {}

  async setModel(tenant: string, model: ModelRecord): Promise<void> {
    await this.redis.hset(K.tenantModels(tenant), model.tag, JSON.stringify(model));
  }

  async getModel(tenant: string, tag: string): Promise<ModelRecord | undefined> {
    const raw = await this.redis.hget(K.tenantModels(tenant), tag);
    return raw ? (JSON.parse(raw) as ModelRecord) : undefined;
  }

  async listModels(tenant: string): Promise<ModelRecord[]> {
    const all = await this.redis.hvals(K.tenantModels(tenant));
    return all.map((m) => JSON.parse(m) as ModelRecord).sort((a, b) => a.tag.localeCompare(b.tag));
  }

  /** Grants a blob to a tenant; `present` when its bytes are in S3 already. */
  async grantBlob(tenant: string, sha256: string, present = false): Promise<void> {
    const tx = this.redis.multi().sadd(K.tenantBlobs(tenant), sha256);
    if (present) tx.sadd(K.blobsPresent, sha256);
    await tx.exec();
  }

  /** Records that blobs are in S3 (after an upload, or a HEAD that found them). */
  async markPresent(sha256s: string[]): Promise<void> {
    if (sha256s.length > 0) await this.redis.sadd(K.blobsPresent, ...sha256s);
  }

  /** Per blob: whether the tenant was granted it, and whether it is known to be in S3. */
  async blobAccess(tenant: string, sha256s: string[]): Promise<{ granted: boolean; present: boolean }[]> {
    if (sha256s.length === 0) return [];
    const res = await this.redis
      .multi()
      .smismember(K.tenantBlobs(tenant), ...sha256s)
      .smismember(K.blobsPresent, ...sha256s)
      .exec();
    const granted = (res?.[0]?.[1] ?? []) as number[];
    const present = (res?.[1]?.[1] ?? []) as number[];
    return sha256s.map((_, i) => ({ granted: granted[i] === 1, present: present[i] === 1 }));
  }

  async hasBlobs(tenant: string, sha256s: string[]): Promise<boolean[]> {
    if (sha256s.length === 0) return [];
    const found = await this.redis.smismember(K.tenantBlobs(tenant), ...sha256s);
    return found.map((f) => f === 1);
  }
}
