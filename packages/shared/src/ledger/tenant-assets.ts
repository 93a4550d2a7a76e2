import type { Redis } from "ioredis";
import type { AdapterName, ChannelOrder } from "../jobs.ts";
import { redisKeys as K } from "./keys.ts";

export interface ModelRecord {
  tag: string;
  sha256: string;
  adapter: AdapterName;
  /** Absent in tags registered before it was recorded: the adapter's default. */
  channels?: ChannelOrder;
  /** SHA-256 of the config blob registered with the model (a Piper voice's .onnx.json). */
  config?: string;
}

/** What a tenant owns besides batches: model tags, and the blobs it sent the bytes of. */
export class TenantAssets {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

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

  /** Grants a blob to a tenant that sent its bytes (so a granted blob is in S3). */
  async grantBlob(tenant: string, sha256: string): Promise<void> {
    await this.redis.sadd(K.tenantBlobs(tenant), sha256);
  }

  async hasBlobs(tenant: string, sha256s: string[]): Promise<boolean[]> {
    if (sha256s.length === 0) return [];
    const found = await this.redis.smismember(K.tenantBlobs(tenant), ...sha256s);
    return found.map((f) => f === 1);
  }
}
