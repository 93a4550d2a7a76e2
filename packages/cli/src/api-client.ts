import fs from "node:fs";
import { Readable } from "node:stream";
import { type Client, createClient } from "./generated-client/client/index.ts";
import * as sdk from "./generated-client/sdk.gen.ts";
import type {
  CreateBatchData,
  CreatePackageData,
  GetBatchResponse,
  GetPackageResponse,
  ListItemsData,
  Problem,
  RegisterModelData,
  StreamBatchEventsResponse,
} from "./generated-client/types.gen.ts";

// The CLI speaks to the API only through the client generated from docs/openapi.json
// (`pnpm client`), so its types are the document's (docs/architecture.md#api-description).
export type BatchStatus = GetBatchResponse;
export type PackageView = GetPackageResponse;
export type BatchEvent = StreamBatchEventsResponse;
export type BatchItemInput = CreateBatchData["body"]["items"][number];

/** An error answer of the API (RFC 9457 problem+json). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Partial<Problem>;

  constructor(status: number, problem: Partial<Problem>) {
    super(`${status} ${problem.title ?? "error"}: ${problem.detail ?? ""}`.trim());
    this.status = status;
    this.problem = problem;
  }
}

/** A generated call's answer, or its problem thrown as an ApiError. */
async function answer<T>(call: Promise<{ data?: T; error?: unknown; response?: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response?.ok) throw new ApiError(response?.status ?? 0, (error ?? {}) as Problem);
  return data as T;
}

/** The mediaq HTTP API (v1) through the generated client. */
export class ApiClient {
  readonly baseUrl: string;
  readonly apiKey: string;
  private readonly client: Client;

  constructor(baseUrl: string, apiKey: string) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
    this.client = createClient({ baseUrl: baseUrl.replace(/\/+$/, ""), auth: apiKey });
  }

  /** Streams a file to PUT /v1/blobs (a file-backed Blob: read as it is sent); the server hashes it. */
  async putBlobFile(file: string) {
    return answer(sdk.putBlob({ client: this.client, body: await fs.openAsBlob(file) }));
  }

  /** Asks for a presigned PUT for a blob the client hashed; exists=true means this key holds it already. */
  async requestUpload(sha256: string, size: number) {
    return answer(sdk.requestUpload({ client: this.client, body: { sha256, size } }));
  }

  /** After the presigned PUT: the API hashes the uploaded bytes and grants the blob. */
  async completeUpload(uploadId: string) {
    return answer(sdk.completeUpload({ client: this.client, path: { uploadId } }));
  }

  /** Uploads a file straight to S3 through a presigned PUT (not an API call: the URL is S3's). */
  async uploadPresigned(url: string, headers: Record<string, string>, file: string): Promise<void> {
    const size = fs.statSync(file).size;
    const res = await fetch(url, {
      method: "PUT",
      headers: { ...headers, "content-length": String(size) },
      body: Readable.toWeb(fs.createReadStream(file)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    if (!res.ok) throw new Error(`upload of ${file} failed: ${res.status} ${await res.text()}`);
  }

  async putModelFile(file: string, query: RegisterModelData["query"]) {
    return answer(sdk.registerModel({ client: this.client, query, body: await fs.openAsBlob(file) }));
  }

  async createBatch(body: CreateBatchData["body"], idempotencyKey?: string) {
    const headers = idempotencyKey ? { "idempotency-key": idempotencyKey } : undefined;
    return answer(sdk.createBatch({ client: this.client, body, headers }));
  }

  /** Appends items to a batch (at most 10,000 per call). */
  async appendItems(id: string, items: BatchItemInput[]) {
    return answer(sdk.appendItems({ client: this.client, path: { id }, body: { items } }));
  }

  async getBatch(id: string): Promise<BatchStatus> {
    return answer(sdk.getBatch({ client: this.client, path: { id } }));
  }

  async listItems(id: string, query: ListItemsData["query"] = {}) {
    return answer(sdk.listItems({ client: this.client, path: { id }, query }));
  }

  /**
   * The batch's event stream (Server-Sent Events), from after lastEventId. The generated
   * client reconnects with Last-Event-ID; the stream ends when the signal aborts.
   */
  async *events(batchId: string, o: { lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<BatchEvent> {
    const { stream } = await sdk.streamBatchEvents({
      client: this.client,
      path: { id: batchId },
      headers: o.lastEventId ? { "last-event-id": o.lastEventId } : undefined,
      signal: o.signal,
    });
    yield* stream;
  }

  async retryBatch(id: string) {
    return answer(sdk.retryBatch({ client: this.client, path: { id } }));
  }

  async createPackage(batchId: string, body: CreatePackageData["body"] = {}) {
    return answer(sdk.createPackage({ client: this.client, path: { id: batchId }, body }));
  }

  async getPackage(id: string): Promise<PackageView> {
    return answer(sdk.getPackage({ client: this.client, path: { id } }));
  }
}
