import type { S3Client } from "@aws-sdk/client-s3";
import {
  computePackageId,
  createPresigner,
  type PackageRecord,
  type PackageView,
  packageJobId,
  presignPackageLinks,
} from "@mediaq/shared";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem, notFound } from "../problem.ts";
import type { BatchService } from "./batch.service.ts";

type Deps = Pick<ApiDeps, "config" | "ledger" | "s3" | "packageQueue">;

/**
 * Packages of a batch's outputs: asking twice returns the same package while it lives; a
 * failed one, or one whose record expired, is built again.
 */
export class PackageService {
  private readonly deps: Deps;
  private readonly batches: BatchService;
  /** Signs links for S3_PUBLIC_ENDPOINT when set (docs/architecture.md#presigned-links). */
  private readonly presigner: S3Client;

  constructor(deps: Deps, batches: BatchService) {
    this.deps = deps;
    this.batches = batches;
    this.presigner = createPresigner(deps.config);
  }

  async request(
    tenant: string,
    batchId: string,
    o: { partSize?: number; expiresIn?: number },
  ): Promise<{ id: string; state: PackageRecord["state"] }> {
    const { config, ledger, packageQueue } = this.deps;
    const batch = await this.batches.own(tenant, batchId);
    const partSize = o.partSize ?? config.PACKAGE_PART_SIZE;
    const expiresIn = o.expiresIn ?? config.PRESIGN_EXPIRES_SECONDS;
    // The package holds exactly the items its id is computed from, even if more finish later.
    const entries: [string, string][] = [];
    const itemIndexes: number[] = [];
    for await (const view of this.batches.allItemViews(batch.id)) {
      if (view.state !== "succeeded" || !view.output) continue;
      entries.push([view.name, view.output.sha256]);
      itemIndexes.push(view.index);
    }
    if (entries.length === 0)
      throw new HttpProblem(409, "nothing-to-package", "Conflict", `Batch ${batch.id} has no succeeded item yet.`);

    const id = computePackageId({ tenant: batch.tenant, batchId: batch.id, partSize, entries });
    const now = Date.now();
    const { state, buildId } = await ledger.packages.request({
      id,
      tenant: batch.tenant,
      batchId: batch.id,
      partSize,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + expiresIn * 1000).toISOString(),
      state: "queued",
      parts: [],
      itemIndexes,
    });
    // Adding under the build's job id is a no-op while BullMQ holds that job, so a queued
    // record whose job was lost (the writer died between the two) is queued again here.
    if (state === "queued") await packageQueue.add("package", { packageId: id }, { jobId: packageJobId(id, buildId) });
    return { id, state };
  }

  /** A package with fresh presigned links. */
  async get(tenant: string, id: string): Promise<PackageView> {
    const { ledger, config } = this.deps;
    const record = await ledger.packages.get(id);
    if (!record || record.tenant !== tenant) throw notFound("package", id);
    const links = await presignPackageLinks(this.presigner, config.S3_BUCKET, record);
    if (!links) throw notFound("package", id);
    return {
      id: record.id,
      state: record.state,
      batchId: record.batchId,
      parts: links.parts,
      manifest: links.manifest ? { url: links.manifest } : null,
      sha256sums: links.sha256sums ? { url: links.sha256sums } : null,
      expiresAt: record.expiresAt,
      ...(record.bytesWritten !== undefined ? { bytesWritten: record.bytesWritten } : {}),
      ...(record.totalBytes !== undefined ? { totalBytes: record.totalBytes } : {}),
      ...(record.error ? { error: record.error } : {}),
    };
  }
}
