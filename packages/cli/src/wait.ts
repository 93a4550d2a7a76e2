import type { ApiClient, BatchStatus, PackageView } from "./api-client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a batch until no item is pending or running. */
export async function waitForBatch(
  client: ApiClient,
  id: string,
  onProgress: (status: BatchStatus) => void = () => {},
  { intervalMs = 500, timeoutMs = Number.POSITIVE_INFINITY } = {},
): Promise<BatchStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await client.getBatch(id);
    onProgress(status);
    if (status.done) return status;
    if (Date.now() > deadline) throw new Error(`batch ${id} not done after ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

/** Polls a package until it is ready (or throws with its error when it failed). */
export async function waitForPackage(
  client: ApiClient,
  id: string,
  onProgress: (pkg: PackageView) => void = () => {},
  { intervalMs = 500, timeoutMs = Number.POSITIVE_INFINITY } = {},
): Promise<PackageView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pkg = await client.getPackage(id);
    onProgress(pkg);
    if (pkg.state === "ready") return pkg;
    if (pkg.state === "failed") throw new Error(`package ${id} failed: ${pkg.error ?? "unknown error"}`);
    if (Date.now() > deadline) throw new Error(`package ${id} not ready after ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}
