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

/** Batches taken per round (oldest unread event first), and state events read per batch. */
const BATCHES_PER_ROUND = 100;
const EVENTS_PER_BATCH = 500;
const BATCHES_AT_ONCE = 8;
/** How long an idle reader waits before looking for due batches again. */
const IDLE_MS = 200;
/** Item lists kept in memory, counted in items across batches. */
const ITEM_CACHE_MAX = 200_000;

/**
 * Turns the state events of batches some endpoint hears into delivery jobs
 * (docs/architecture.md#webhooks). Each batch's state stream is the durable record: it is
 * appended in the same Redis script that moves an item's state, and progress never trims
 * it. The same script marks the batch due, so the reader visits only batches with unread
 * events (a finished quiet batch costs nothing) and a round costs at most
 * BATCHES_PER_ROUND x EVENTS_PER_BATCH events whatever the number of watched batches. A
 * cursor per batch is saved only after its jobs are queued; after a crash the same events
 * are read again and give the same webhook ids, which BullMQ does not queue twice (at
 * least once).
 */
export class EventReader {
  private stopped = false;
  private wakeIdle: (() => void) | undefined;
  /** Item lists by batch, oldest first (Map order), bounded by ITEM_CACHE_MAX items. */
  private readonly itemsByJob = new Map<
    string,
    { total: number; byJobKey: Map<string, { index: number; name: string }[]> }
  >();
  private cachedItems = 0;
  private loop: Promise<void> | undefined;

  private readonly d: ReaderDeps;
  /** Signs package links for S3_PUBLIC_ENDPOINT when set (docs/architecture.md#presigned-links). */
  private readonly presigner: S3Client;

  constructor(d: ReaderDeps) {
    this.d = d;
    this.presigner = createPresigner(d.config);
  }

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wakeIdle?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if ((await this.round()) === 0) await this.idle(IDLE_MS);
      } catch (err) {
        if (this.stopped) return;
        this.d.logger.error({ err }, "webhook event reader: round failed; trying again");
        await this.idle(1000);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One pass over the due batches (oldest unread event first). Returns the batches visited. */
  async round(): Promise<number> {
    const { ledger } = this.d;
    const due = await ledger.webhooks.due(BATCHES_PER_ROUND);
    // Batches are independent: a few at a time, so round trips overlap.
    let next = 0;
    const visit = async () => {
      for (let batchId = due[next++]; batchId !== undefined && !this.stopped; batchId = due[next++]) {
        const { cursor, completed } = await ledger.webhooks.reader(batchId);
        const events = await ledger.events.stateEvents(batchId, cursor, EVENTS_PER_BATCH);
        await this.handleBatch(batchId, cursor, events, completed);
      }
    };
    await Promise.all(Array.from({ length: BATCHES_AT_ONCE }, visit));
    return due.length;
  }

  private async handleBatch(
    batchId: string,
    cursor: string,
    entries: StoredEvent[],
    lastCompletion: string | undefined,
  ): Promise<void> {
    const { ledger } = this.d;
    const { webhooks } = ledger;
    const last = entries[entries.length - 1]?.id;
    if (!last) {
      // Nothing unread (or the batch expired): the ledger clears or forgets it.
      await webhooks.advance(batchId, cursor);
      if (!(await ledger.batches.get(batchId))) this.forget(batchId);
      return;
    }
    const batch = await ledger.batches.get(batchId);
    const endpoints = batch ? await webhooks.endpointsOf(batchId) : [];
    const jobs: DeliveryJob[] = [];
    let terminal = false;
    let completedBefore = lastCompletion;
    for (const { id: entryId, event } of entries) {
      if (event.type === "item" && (event.state === "pending" || event.state === "running")) {
        // The batch has work again: its next completion is a new one.
        if (completedBefore !== undefined) await webhooks.reopen(batchId);
        completedBefore = undefined;
        continue;
      }
      if (endpoints.length === 0) continue;
      const payloads = await this.payloadsOf(batchId, event);
      if (event.type === "item") terminal = true;
      for (const p of payloads) jobs.push(...deliveriesFor(endpoints, batchId, entryId, p));
    }
    const completion =
      terminal && batch && endpoints.length > 0
        ? await this.completion(batchId, last, endpoints, completedBefore)
        : undefined;
    if (completion) jobs.push(...completion.jobs);
    if (jobs.length > 0) await this.enqueue(jobs);
    // Only once the jobs are queued: a crash before this reads the same events again.
    await webhooks.advance(batchId, last, completion?.signature);
  }

  /** batch.completed (and batch.failed_items) once per completion of the batch. */
  private async completion(
    batchId: string,
    entryId: string,
    endpoints: WebhookEndpoint[],
    lastCompletion: string | undefined,
  ): Promise<{ jobs: DeliveryJob[]; signature: string } | undefined> {
    const { ledger } = this.d;
    const [counts, total] = await Promise.all([ledger.batches.counts(batchId), ledger.batches.total(batchId)]);
    if (total === 0 || counts.pending + counts.running > 0) return undefined;
    const signature = JSON.stringify(counts);
    if (lastCompletion === signature) return undefined;
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
      this.forget(batchId);
      cached = { total, byJobKey };
      this.itemsByJob.set(batchId, cached);
      this.cachedItems += total;
      // Oldest lists go first: memory stays bounded however many batches are watched.
      for (const [id, old] of this.itemsByJob) {
        if (this.cachedItems <= ITEM_CACHE_MAX || id === batchId) break;
        this.itemsByJob.delete(id);
        this.cachedItems -= old.total;
      }
    }
    return cached.byJobKey.get(jobKey) ?? [];
  }

  private forget(batchId: string): void {
    const cached = this.itemsByJob.get(batchId);
    if (!cached) return;
    this.itemsByJob.delete(batchId);
    this.cachedItems -= cached.total;
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
