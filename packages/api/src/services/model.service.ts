import type { Readable } from "node:stream";
import { channelsOf, type ModelAnswer, type ModelQuery } from "@mediaq/shared";
import type { ApiDeps } from "../deps.ts";
import type { BlobService } from "./blob.service.ts";
import { checkModel } from "./model-checks.ts";

type Deps = Pick<ApiDeps, "s3" | "ledger" | "config">;

/**
 * A tenant's models: ONNX files stored as its blobs, each behind a tag that names the
 * adapter that runs it; uploading one is proof of holding its bytes (docs/architecture.md#blob-grants).
 */
export class ModelService {
  private readonly deps: Deps;
  private readonly blobs: BlobService;

  constructor(deps: Deps, blobs: BlobService) {
    this.deps = deps;
    this.blobs = blobs;
  }

  /**
   * Stores the model's bytes as a blob of the tenant and points the tag at them, once its
   * signature is checked (model-checks.ts): a Piper voice's against its .onnx.json, a face-swap model's against its adapter's.
   */
  async register(tenant: string, query: ModelQuery, body: Readable): Promise<ModelAnswer> {
    const { tag, adapter, config } = query;
    const channels = channelsOf(query);
    const { blob } = await this.blobs.put(tenant, body);
    await checkModel(this.deps, tenant, { adapter, model: blob.sha256, config });
    const model = { tag, sha256: blob.sha256, adapter, channels, ...(config ? { config } : {}) };
    await this.deps.ledger.assets.setModel(tenant, model);
    return model;
  }

  async list(tenant: string): Promise<ModelAnswer[]> {
    return (await this.deps.ledger.assets.listModels(tenant)).map((m) => ({ ...m, channels: channelsOf(m) }));
  }
}
