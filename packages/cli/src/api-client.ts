import fs from "node:fs";
import { Readable } from "node:stream";
import {
  type BatchEvent,
  type BatchSummary,
  batchSummarySchema,
  type CreateBatchBody,
  type ItemInput,
  type ItemsPage,
  itemsPageSchema,
  type PackageView as PackageViewBody,
  packageRequestAnswerSchema,
  packageViewSchema,
  type SubmitAnswer,
  submitAnswerSchema,
} from "@mediaq/shared";
import { EventSourceParserStream } from "eventsource-parser/stream";

/** An error answer of the API (RFC 9457 problem+json). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: { title?: string; detail?: string; type?: string };

  constructor(status: number, problem: { title?: string; detail?: string; type?: string }) {
    super(`${status} ${problem.title ?? "error"}: ${problem.detail ?? ""}`.trim());
    this.status = status;
    this.problem = problem;
  }
}

// The API's own request and response schemas (packages/shared/src/api-schemas.ts): the client
// validates every JSON answer with them, so a change on either side shows at once.
export type BatchItemInput = ItemInput;
export type BatchStatus = BatchSummary;
export type PackageView = PackageViewBody;

/** The mediaq HTTP API (v1) over fetch. */
export class ApiClient {
  readonly baseUrl: string;
  readonly apiKey: string;

  constructor(baseUrl: string, apiKey: string) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
  }

  private async call<T>(
    method: string,
    path: string,
    init: { json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    const text = await res.text();
    const data = text ? JSON.parse(text) : {};
    if (!res.ok) throw new ApiError(res.status, data);
    return data as T;
  }

  /** Streams a file to PUT /v1/blobs; the server hashes it. */
  async putBlobFile(file: string): Promise<{ sha256: string; size: number }> {
    const stream = Readable.toWeb(fs.createReadStream(file)) as ReadableStream;
    return this.call("PUT", "/v1/blobs", { body: stream, headers: { "content-type": "application/octet-stream" } });
  }

  /** Asks for a presigned PUT for a blob the client hashed; exists=true means this key holds it already. */
  async requestUpload(
    sha256: string,
    size: number,
  ): Promise<{ exists: boolean; url?: string; headers?: Record<string, string>; complete?: string }> {
    return this.call("POST", "/v1/blobs/uploads", { json: { sha256, size } });
  }

  /** After the presigned PUT: the API hashes the uploaded bytes and grants the blob. */
  async completeUpload(complete: string): Promise<{ sha256: string; size: number }> {
    return this.call("POST", complete);
  }

  /** Uploads a file straight to S3 through a presigned PUT. */
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

  async putModelFile(
    file: string,
    tag: string,
    adapter: string,
    channels?: string,
  ): Promise<{ sha256: string; tag: string; adapter: string; channels: string }> {
    const q = new URLSearchParams({ tag, adapter, ...(channels ? { channels } : {}) });
    return this.call("POST", `/v1/models?${q}`, {
      body: fs.readFileSync(file),
      headers: { "content-type": "application/octet-stream" },
    });
  }

  async createBatch(body: CreateBatchBody, idempotencyKey?: string): Promise<SubmitAnswer> {
    return submitAnswerSchema.parse(
      await this.call("POST", "/v1/batches", {
        json: body,
        headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      }),
    );
  }

  /** Appends items to a batch (at most 10,000 per call). */
  async appendItems(id: string, items: CreateBatchBody["items"]): Promise<SubmitAnswer> {
    return submitAnswerSchema.parse(await this.call("POST", `/v1/batches/${id}/items`, { json: { items } }));
  }

  async getBatch(id: string): Promise<BatchStatus> {
    return batchSummarySchema.parse(await this.call("GET", `/v1/batches/${id}`));
  }

  async listItems(id: string, q: { state?: string; cursor?: string; limit?: number } = {}): Promise<ItemsPage> {
    const params = new URLSearchParams(
      Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
    return itemsPageSchema.parse(await this.call("GET", `/v1/batches/${id}/items?${params}`));
  }

  /**
   * The batch's event stream (Server-Sent Events), resuming after lastEventId. Ends when
   * the signal aborts or the server closes the stream.
   */
  async *events(
    batchId: string,
    o: { lastEventId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<{ id: string; event: BatchEvent }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: "text/event-stream" };
    if (o.lastEventId) headers["last-event-id"] = o.lastEventId;
    const res = await fetch(new URL(`/v1/batches/${batchId}/events`, this.baseUrl), { headers, signal: o.signal });
    if (!res.ok || !res.body) throw new ApiError(res.status, await res.json().catch(() => ({})));
    const messages = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    try {
      for await (const m of messages) if (m.data) yield { id: m.id ?? "", event: JSON.parse(m.data) as BatchEvent };
    } catch (err) {
      if (!o.signal?.aborted) throw err;
    }
  }

  async retryBatch(id: string): Promise<{ retried: number }> {
    return this.call("POST", `/v1/batches/${id}/retry`);
  }

  async createPackage(
    batchId: string,
    body: { partSize?: number; expiresIn?: number } = {},
  ): Promise<{ id: string; state: PackageView["state"] }> {
    return packageRequestAnswerSchema.parse(await this.call("POST", `/v1/batches/${batchId}/packages`, { json: body }));
  }

  async getPackage(id: string): Promise<PackageView> {
    return packageViewSchema.parse(await this.call("GET", `/v1/packages/${id}`));
  }
}
