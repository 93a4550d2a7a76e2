import type { S3Client } from "@aws-sdk/client-s3";
import {
  type BatchEvent,
  type StoredEvent,
  type Config,
  createPresigner,
  type Ledger,
  type Logger,
  presignPackageLinks,
  sha256Hex,
  type WebhookEndpoint,
  type WebhookEventType,
  type WebhookPayload,
} from "@mediaq/shared";
import type { Queue } from "bullmq";
import type { DeliveryJob } from "./delivery.ts";

export interface ReaderDeps {
  ledger: Ledger;
  s3: S3Client;
  queue: Queue<DeliveryJob>;
  config: Config;
  logger: Logger;
}

const BLOCK_MS = 1000;

/**
 * Turns the events of watched batches into delivery jobs (docs/architecture.md#webhooks).
 * The batch event streams are the durable record: each is appended in the same Redis
 * script that moves an item's state, so no state change is lost. A cursor per batch is
 * saved only after its jobs are queued; after a crash the same events are read again and
 * give the same webhook ids, which BullMQ does not queue twice (at least once).
 */
export class EventReader {
  private stopped = false;
  private readonly conn: ReturnType<Ledger["events"]["readerConnection"]>;
  private readonly itemsByJob = new Map<
    string,
    { total: number; byJobKey: Map<string, { index: number; name: string }[]> }
  >();
  private loop: Promise<void> | undefined;

  private readonly d: ReaderDeps;
  /** Signs package links for S3_PUBLIC_ENDPOINT when set (docs/architecture.md#presigned-links). */
  private readonly presigner: S3Client;

  constructor(d: ReaderDeps) {
    this.d = d;
    this.presigner = createPresigner(d.config);
    // Blocking reads hold their connection.
    this.conn = d.ledger.events.readerConnection();
  }

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.conn.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.round();
      } catch (err) {
        if (this.stopped) return;
        this.d.logger.error({ err }, "webhook event reader: round failed; trying again");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** One blocking read over every watched batch's stream, then its events queued. */
  async round(blockMs = BLOCK_MS): Promise<number> {
    const { webhooks } = this.d.ledger;
    const ids = await webhooks.watched(5000);
    if (ids.length === 0) {
      await new Promise((r) => setTimeout(r, Math.min(blockMs, 500)));
      return 0;
    }
    const cursors = await webhooks.cursors(ids);
    const read = await this.d.ledger.events.readMany(
      this.conn,
      new Map(ids.map((id, i) => [id, cursors[i] ?? "0"])),
      blockMs,
    );
    let queued = 0;
    for (const [batchId, events] of read) queued += await this.handleBatch(batchId, events);
    if (read.size === 0) await this.prune(ids);
    return queued;
  }

  private async handleBatch(batchId: string, entries: StoredEvent[]): Promise<number> {
    const { ledger } = this.d;
    const { webhooks } = ledger;
    const last = entries[entries.length - 1]?.id;
    if (!last) return 0;
    const batch = await ledger.batches.get(batchId);
    const endpoints = batch ? await webhooks.endpointsOf(batchId) : [];
    const jobs: DeliveryJob[] = [];
    let terminal = false;
    for (const { id: entryId, event } of entries) {
      if (event.type === "item" && (event.state === "pending" || event.state === "running")) {
        // The batch has work again: its next completion is a new one.
        await webhooks.reopen(batchId);
        continue;
      }
      const payloads = await this.payloadsOf(batchId, event);
      if (event.type === "item") terminal = true;
      for (const p of payloads) jobs.push(...deliveriesFor(endpoints, batchId, entryId, p));
    }
    const completion = terminal && batch ? await this.completion(batchId, last, endpoints) : undefined;
    if (completion) jobs.push(...completion.jobs);
    if (jobs.length > 0) await this.enqueue(jobs);
    // Only once the jobs are queued: a crash before this reads the same events again.
    await webhooks.advance(batchId, last, completion?.signature);
    return jobs.length;
  }

  /** batch.completed (and batch.failed_items) once per completion of the batch. */
  private async completion(
    batchId: string,
    entryId: string,
    endpoints: WebhookEndpoint[],
  ): Promise<{ jobs: DeliveryJob[]; signature: string } | undefined> {
    const { ledger } = this.d;
    const [counts, total] = await Promise.all([ledger.batches.counts(batchId), ledger.batches.total(batchId)]);
    if (total === 0 || counts.pending + counts.running > 0) return undefined;
    const signature = JSON.stringify(counts);
    if ((await ledger.webhooks.lastCompletion(batchId)) === signature) return undefined;
    const timestamp = new Date().toISOString();
    const data = { batchId, total, counts };
    const payloads: WebhookPayload[] = [{ type: "batch.completed", timestamp, data }];
    if (counts.failed > 0) payloads.push({ type: "batch.failed_items", timestamp, data });
    return { jobs: payloads.flatMap((p) => deliveriesFor(endpoints, batchId, entryId, p)), signature };
  }

  private async payloadsOf(batchId: string, event: BatchEvent): Promise<WebhookPayload[]> {
    const timestamp = new Date().toISOString();
    if (event.type === "item" && (event.state === "succeeded" || event.state === "failed")) {
      const [items, counts] = await Promise.all([
        this.itemsOf(batchId, event.jobKey),
        this.d.ledger.batches.counts(batchId),
      ]);
      return [
        event.state === "succeeded"
          ? { type: "item.succeeded", timestamp, data: { batchId, jobKey: event.jobKey, items, counts } }
          : {
              type: "item.failed",
              timestamp,
              data: { batchId, jobKey: event.jobKey, items, counts, ...(event.error ? { error: event.error } : {}) },
            },
      ];
    }
    if (event.type === "package" && event.state === "failed") {
      const record = await this.d.ledger.packages.get(event.packageId);
      return [
        {
          type: "package.failed",
          timestamp,
          data: { batchId, packageId: event.packageId, ...(record?.error ? { error: record.error } : {}) },
        },
      ];
    }
    if (event.type === "package" && event.state === "ready") {
      const record = await this.d.ledger.packages.get(event.packageId);
      if (!record) return [];
      const links = await presignPackageLinks(this.presigner, this.d.config.S3_BUCKET, record);
      if (!links) return [];
      return [
        {
          type: "package.ready",
          timestamp,
          data: {
            batchId,
            packageId: record.id,
            ...links,
            expiresAt: record.expiresAt,
          },
        },
      ];
    }
    return [];
  }

  /** The batch's items computed by a job key (one read of the item list per batch, refreshed when it grows). */
  private async itemsOf(batchId: string, jobKey: string): Promise<{ index: number; name: string }[]> {
    const { ledger } = this.d;
    const total = await ledger.batches.total(batchId);
    let cached = this.itemsByJob.get(batchId);
    if (!cached || cached.total !== total) {
      const byJobKey = new Map<string, { index: number; name: string }[]>();
      (await ledger.batches.items(batchId, 0, total)).forEach((item, index) => {
        const list = byJobKey.get(item.jobKey) ?? [];
        list.push({ index, name: item.name });
        byJobKey.set(item.jobKey, list);
      });
      cached = { total, byJobKey };
      if (this.itemsByJob.size > 1000) this.itemsByJob.clear();
      this.itemsByJob.set(batchId, cached);
    }
    return cached.byJobKey.get(jobKey) ?? [];
  }

  private async enqueue(jobs: DeliveryJob[]): Promise<void> {
    const { config, queue } = this.d;
    await queue.addBulk(
      jobs.map((data) => ({
        name: data.type,
        data,
        opts: {
          jobId: data.webhookId,
          attempts: config.WEBHOOK_ATTEMPTS,
          backoff: { type: "exponential", delay: config.WEBHOOK_BACKOFF_MS },
          // Kept a day after delivery, so an event read again after a crash is not sent twice.
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
  }

  /** Forgets batches whose record expired (nothing more can happen to them). */
  private async prune(ids: string[]): Promise<void> {
    const { ledger } = this.d;
    for (const id of ids) {
      if (await ledger.batches.get(id)) continue;
      if ((await ledger.events.newestId(id)) !== "0") continue;
      await ledger.webhooks.unwatch(id);
      this.itemsByJob.delete(id);
    }
  }
}

/** One delivery per endpoint that wants the event; the webhook id is fixed by (event, endpoint). */
function deliveriesFor(
  endpoints: WebhookEndpoint[],
  batchId: string,
  entryId: string,
  payload: WebhookPayload,
): DeliveryJob[] {
  return endpoints
    .filter((e) => e.events.includes(payload.type as WebhookEventType))
    .map((e) => ({
      webhookId: `msg_${sha256Hex(`${batchId}\n${entryId}\n${payload.type}\n${e.id}`).slice(0, 32)}`,
      endpointId: e.id,
      batchId,
      type: payload.type,
      body: JSON.stringify(payload),
    }));
}
