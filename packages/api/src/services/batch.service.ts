import { randomUUID } from "node:crypto";
import {
  type AppendItemsBody,
  type Attached,
  type BatchItem,
  type BatchRecord,
  BATCH_ADAPTERS,
  type BatchSummary,
  channelsOf,
  type CreateBatchBody,
  canonicalJson,
  inferenceJobFor,
  dropSegmentPieces,
  type ItemInput,
  type ItemState,
  type ItemsPage,
  type ItemView,
  MAX_ITEMS_PER_REQUEST,
  queueAttached,
  queueOutbox,
  repairOutbox,
  type SubmitAnswer,
  sha256Hex,
  withdrawJob,
  SHA256_HEX,
} from "@mediaq/shared";
import {
  assertNoItemErrors,
  assertUniqueNames,
  blobsUsed,
  namesTaken,
  prepareItems,
  voiceRefs,
  type ResolvedModel,
} from "../batch-input.ts";
import type { ApiDeps } from "../deps.ts";
import type { WebhookService } from "./webhook.service.ts";
import { badRequest, HttpProblem, listSome, notFound } from "../problem.ts";

type Deps = Pick<ApiDeps, "config" | "ledger" | "s3" | "inferenceQueue" | "logger">;

/**
 * Batches as the API offers them: submit (with Idempotency-Key), append, status, items,
 * retry and cancel. Each ledger write is one atomic command (docs/architecture.md#ledger).
 */
export class BatchService {
  private readonly deps: Deps;
  private readonly webhooks: WebhookService;

  constructor(deps: Deps, webhooks: WebhookService) {
    this.deps = deps;
    this.webhooks = webhooks;
  }

  /** The tenant's batch, or a 404 that looks the same whether it is someone else's or absent. */
  async own(tenant: string, id: string): Promise<BatchRecord> {
    const batch = await this.deps.ledger.batches.get(id);
    if (!batch || batch.tenant !== tenant) throw notFound("batch", id);
    return batch;
  }

  /** Status from counters only, so a batch of 10,000 items answers in O(1). */
  async summary(batch: BatchRecord): Promise<BatchSummary> {
    const s = await this.deps.ledger.batches.status(batch.id);
    return {
      id: batch.id,
      total: s.total,
      counts: s.counts,
      done: s.done,
      createdAt: batch.createdAt,
      ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
      model: batch.model,
      ...(batch.modelTag ? { modelTag: batch.modelTag } : {}),
      adapter: batch.adapter,
      cancelled: s.cancelled,
    };
  }

  async list(tenant: string, limit: number): Promise<BatchSummary[]> {
    const batches = await this.deps.ledger.batches.list(tenant, limit);
    return Promise.all(batches.map((b) => this.summary(b)));
  }

  /**
   * Submits a batch. With an Idempotency-Key the request's fingerprint is bound to the key:
   * the same request again replays the batch (200), another request under the key is a 422.
   */
  async create(
    tenant: string,
    body: CreateBatchBody,
    idempotencyKey?: string,
  ): Promise<{ status: 200 | 201; answer: SubmitAnswer }> {
    const { ledger } = this.deps;
    const idempotency = idempotencyKey
      ? { key: idempotencyKey, fingerprint: sha256Hex(canonicalJson(body)) }
      : undefined;
    // A replay answers before any validation: it is cheap however large the batch.
    if (idempotency) {
      const bound = await ledger.batches.idempotent(tenant, idempotency.key);
      if (bound) return this.replayOrMismatch(tenant, bound.batchId, bound.fingerprint === idempotency.fingerprint);
    }
    await this.repairOutbox();
    assertUniqueNames(body.items);
    const model = await this.resolveModel(tenant, body.model);
    const refs = new Map<string, string>();
    const params = await this.resolveRecognizer(tenant, body.params ?? {}, refs);
    const inputs = await Promise.all(
      body.items.map(async (i) =>
        i.params ? { ...i, params: await this.resolveRecognizer(tenant, i.params, refs) } : i,
      ),
    );
    const items = await this.prepare(tenant, model, params, inputs);
    await this.checkBlobs(tenant, items);
    if (body.webhook) await this.webhooks.checkUrl(body.webhook.url);
    const batch: BatchRecord = {
      id: randomUUID(),
      tenant,
      model: model.sha256,
      ...(model.tag ? { modelTag: model.tag } : {}),
      adapter: model.adapter,
      channels: model.channels,
      ...(model.config ? { config: model.config } : {}),
      params,
      createdAt: new Date().toISOString(),
    };
    // Subscribed with its creation, before its jobs are queued: its endpoints hear every event.
    const own = body.webhook ? this.webhooks.ownEndpoint(tenant, batch.id, body.webhook) : undefined;
    const outcome = await ledger.batches.create(batch, items, idempotency, own);
    if (outcome.kind !== "created") return this.replayOrMismatch(tenant, outcome.id, outcome.kind === "replay");
    const webhook = await this.webhooks.ownOf(batch.id);
    await queueAttached(this.deps.ledger, this.deps.inferenceQueue, batch, items, outcome);
    this.deps.logger.info({ batch: batch.id, tenant, items: items.length }, "batch created");
    const answer = await this.answer(batch, items, outcome);
    return { status: 201, answer: webhook ? { ...answer, webhook } : answer };
  }

  /** Appends items to a batch; names must stay unique in it. */
  async append(tenant: string, id: string, body: AppendItemsBody): Promise<SubmitAnswer> {
    const batch = await this.own(tenant, id);
    await this.repairOutbox();
    assertUniqueNames(body.items);
    const model = { sha256: batch.model, adapter: batch.adapter, channels: channelsOf(batch), config: batch.config };
    const refs = new Map<string, string>();
    const inputs = await Promise.all(
      body.items.map(async (i) =>
        i.params ? { ...i, params: await this.resolveRecognizer(tenant, i.params, refs) } : i,
      ),
    );
    const items = await this.prepare(tenant, model, batch.params, inputs);
    await this.checkBlobs(tenant, items);
    const outcome = await this.deps.ledger.batches.append(batch.id, items);
    if (outcome.kind === "missing") throw notFound("batch", id);
    if (outcome.kind === "taken") throw namesTaken(outcome.names);
    await queueAttached(this.deps.ledger, this.deps.inferenceQueue, batch, items, outcome);
    return this.answer(batch, items, outcome);
  }

  /**
   * One page of items from `cursor` (an item index). With a state filter the scan stops
   * after `scanBudget` items even if the page is not full; nextCursor says where to go on.
   */
  async itemsPage(
    batchId: string,
    o: { cursor: number; limit: number; state?: ItemState | "cancelled"; scanBudget?: number },
  ): Promise<ItemsPage> {
    const { batches } = this.deps.ledger;
    const total = await batches.total(batchId);
    if (!o.state) {
      const items = await batches.itemViews(batchId, o.cursor, o.limit);
      const next = o.cursor + items.length;
      return { items, nextCursor: next < total ? String(next) : null };
    }
    const budget = o.scanBudget ?? 10_000;
    const items: ItemView[] = [];
    let at = o.cursor;
    while (at < total && items.length < o.limit && at - o.cursor < budget) {
      const page = await batches.itemViews(batchId, at, Math.min(500, budget));
      for (const view of page) {
        at = view.index + 1;
        if (view.state === o.state) items.push(view);
        if (items.length === o.limit) break;
      }
      if (page.length === 0) break;
    }
    return { items, nextCursor: at < total ? String(at) : null };
  }

  /** Walks a batch's items in order, a page at a time. */
  async *allItemViews(batchId: string, pageSize = 500): AsyncGenerator<ItemView> {
    const total = await this.deps.ledger.batches.total(batchId);
    for (let start = 0; start < total; start += pageSize)
      for (const view of await this.deps.ledger.batches.itemViews(batchId, start, pageSize)) yield view;
  }

  /** Queues the batch's failed items again (every batch waiting on them sees them pending). */
  async retry(tenant: string, id: string): Promise<{ retried: number }> {
    const batch = await this.own(tenant, id);
    const { retried, outbox } = await this.deps.ledger.batches.retry(batch.id);
    const indexes = outbox.map((e) => Number(e.slice(e.lastIndexOf(":") + 1)));
    const jobs = await Promise.all(
      indexes.map(async (index, i) => {
        const [item] = await this.deps.ledger.batches.items(batch.id, index, 1);
        return item ? { entry: outbox[i] as string, job: inferenceJobFor(batch, item) } : undefined;
      }),
    );
    await queueOutbox(
      this.deps.ledger,
      this.deps.inferenceQueue,
      jobs.filter((j) => j !== undefined),
    );
    return { retried };
  }

  /**
   * Cancels the batch's pending items and its long items still waiting for segments; jobs no
   * other batch waits on leave the queue, with their queued segments and finished pieces.
   */
  async cancel(tenant: string, id: string): Promise<{ cancelled: number }> {
    const { ledger, inferenceQueue, s3, config, logger } = this.deps;
    const batch = await this.own(tenant, id);
    const { cancelled, orphaned } = await ledger.batches.cancel(batch.id);
    // A job a worker took meanwhile is locked and stays; the worker finds no batch waiting,
    // skips it and deletes its pieces itself. The cancel is recorded already: a clean-up that
    // fails is logged, not answered with an error (a retry would find nothing to clean).
    const cleanups = await Promise.allSettled(
      orphaned.map(async (jobKey) => {
        if (await withdrawJob(inferenceQueue, ledger, jobKey))
          await dropSegmentPieces(ledger, s3, config.S3_BUCKET, jobKey);
      }),
    );
    for (const [i, c] of cleanups.entries())
      if (c.status === "rejected")
        logger.warn({ err: c.reason, jobKey: orphaned[i], batch: batch.id }, "cancelled job not cleaned up");
    return { cancelled };
  }

  private async replayOrMismatch(
    tenant: string,
    batchId: string,
    sameRequest: boolean,
  ): Promise<{ status: 200; answer: SubmitAnswer }> {
    if (!sameRequest)
      throw new HttpProblem(
        422,
        "idempotency-key-reused",
        "Unprocessable Content",
        `This Idempotency-Key was used for another request (batch ${batchId}); send a new key for a different body.`,
        { batchId },
      );
    const batch = await this.own(tenant, batchId);
    // The first request may have died between its ledger write and its queue write: the
    // replay queues what it left before answering (a live first request's jobs are the same
    // ids, so nothing runs twice).
    await this.repairOutbox({ batchId });
    const [summary, views] = await Promise.all([
      this.summary(batch),
      this.deps.ledger.batches.itemViews(batchId, 0, MAX_ITEMS_PER_REQUEST),
    ]);
    const items = views.map(({ index, name, jobKey, state }) => ({ index, name, jobKey, state }));
    // The batch's own webhook, secret included: a client that lost the first answer gets it again.
    const webhook = await this.webhooks.ownOf(batchId);
    const answer = { id: batchId, total: summary.total, counts: summary.counts, items };
    return { status: 200, answer: webhook ? { ...answer, webhook } : answer };
  }

  private async answer(batch: BatchRecord, items: BatchItem[], attached: Attached): Promise<SubmitAnswer> {
    const s = await this.deps.ledger.batches.status(batch.id);
    return {
      id: batch.id,
      total: s.total,
      counts: s.counts,
      items: items.map((item, i) => ({
        index: attached.firstIndex + i,
        name: item.name,
        jobKey: item.jobKey,
        state: attached.states[i]?.state ?? "pending",
      })),
    };
  }

  /**
   * Queues what a crashed writer left in the outbox: entries older than OUTBOX_GRACE_SECONDS,
   * or every entry of one batch. Each API process also runs it on a timer (outbox-repair.ts).
   */
  async repairOutbox(o: { batchId?: string } = {}): Promise<number> {
    const { ledger, inferenceQueue, config, logger } = this.deps;
    const repaired = await repairOutbox(
      ledger,
      inferenceQueue,
      o.batchId ? { batchId: o.batchId } : { olderThanMs: Date.now() - config.OUTBOX_GRACE_SECONDS * 1000 },
    );
    if (repaired > 0) logger.warn({ repaired, ...o }, "queued work a crashed writer left in the outbox");
    return repaired;
  }

  private async prepare(
    tenant: string,
    model: ResolvedModel,
    batchParams: Record<string, unknown>,
    inputs: ItemInput[],
  ): Promise<BatchItem[]> {
    const scope = this.deps.config.DEDUP_SCOPE === "global" ? "global" : tenant;
    // Script-to-video items name a voice: resolved to its hash now and recorded, like the model.
    const voices = new Map<string, ResolvedModel>();
    if (model.adapter === "wav2lip")
      for (const ref of voiceRefs(batchParams, inputs)) voices.set(ref, await this.resolveVoice(tenant, ref));
    const { items, errors } = prepareItems({ scope, model, batchParams, items: inputs, voices });
    assertNoItemErrors(errors);
    return items;
  }

  /**
   * A face swap's params.recognizer given as a tag becomes its model's sha256: the job key
   * names model bytes, never a tag that may move (docs/architecture.md#face-swap).
   */
  private async resolveRecognizer(
    tenant: string,
    params: Record<string, unknown>,
    known: Map<string, string>,
  ): Promise<Record<string, unknown>> {
    const ref = params.recognizer;
    if (typeof ref !== "string" || SHA256_HEX.test(ref)) return params;
    let sha256 = known.get(ref);
    if (!sha256) {
      const found = await this.deps.ledger.assets.getModel(tenant, ref);
      if (!found)
        throw badRequest(
          "unknown-model",
          `No recognizer "${ref}" for this API key. Upload one with POST /v1/models?tag=<tag>&adapter=arcface.`,
          { model: ref },
        );
      if (found.adapter !== "arcface")
        throw badRequest("not-a-recognizer", `params.recognizer "${ref}" is a ${found.adapter} model, not arcface.`, {
          model: ref,
        });
      sha256 = found.sha256;
      known.set(ref, sha256);
    }
    return { ...params, recognizer: sha256 };
  }

  /** A voice for script-to-video items: one of the tenant's piper models, by tag or sha256. */
  private async resolveVoice(tenant: string, ref: string): Promise<ResolvedModel> {
    const voice = await this.resolveModel(tenant, ref);
    if (voice.adapter !== "piper")
      throw badRequest(
        "not-a-voice",
        `params.voice "${ref}" is a ${voice.adapter} model; a voice is a piper model (POST /v1/models?adapter=piper&config=<sha256>).`,
        { voice: ref },
      );
    return voice;
  }

  /** A model tag, or the hash of one of the tenant's models; a model that serves others cannot run a batch. */
  private async resolveModel(tenant: string, ref: string): Promise<ResolvedModel> {
    const { assets } = this.deps.ledger;
    const byTag = await assets.getModel(tenant, ref);
    const models = byTag ? [] : await assets.listModels(tenant);
    const found = byTag ?? models.find((m) => m.sha256 === ref);
    if (found && !BATCH_ADAPTERS.includes(found.adapter))
      throw badRequest(
        "not-a-batch-model",
        `Model "${ref}" has adapter ${found.adapter}: it serves other models (a face detector goes in ` +
          `params.detector as its sha256 ${found.sha256}) and cannot run a batch itself.`,
        { model: ref },
      );
    // One voice (ONNX bytes) under several tags with different configs is named by its tag.
    const configs = new Set(models.filter((m) => m.sha256 === ref).map((m) => m.config));
    if (!byTag && configs.size > 1)
      throw badRequest(
        "ambiguous-model",
        `Model ${ref} is registered with ${configs.size} different configs; name it by one of its tags: ` +
          listSome(models.filter((m) => m.sha256 === ref).map((m) => m.tag)),
        { model: ref },
      );
    const model = byTag ?? found;
    if (model)
      return {
        sha256: model.sha256,
        adapter: model.adapter,
        channels: channelsOf(model),
        ...(model.config ? { config: model.config } : {}),
        ...(byTag ? { tag: byTag.tag } : {}),
      };
    const known =
      models.length > 0 ? `known tags: ${listSome(models.map((m) => m.tag))}` : "this key has no models yet";
    throw badRequest(
      "unknown-model",
      `No model "${ref}" for this API key (${known}). Upload one with POST /v1/models?tag=<tag>&adapter=wav2lip.`,
      { model: ref },
    );
  }

  /**
   * Every input (and a face detector of the tenant's own) must be a blob this tenant was
   * granted. Grants are earned by sending the bytes (docs/architecture.md#blob-grants), so a
   * granted blob is in S3: one round trip for all inputs, no HEAD per blob.
   */
  private async checkBlobs(tenant: string, items: BatchItem[]): Promise<void> {
    const hashes = [...new Set(items.flatMap(blobsUsed))];
    const present = await this.deps.ledger.assets.hasBlobs(tenant, hashes);
    const missing = hashes.filter((_, i) => !present[i]);
    if (missing.length === 0) return;
    const missingSet = new Set(missing);
    const affected = items.filter((i) => blobsUsed(i).some((h) => missingSet.has(h))).map((i) => i.name);
    throw badRequest(
      "unknown-blobs",
      `${missing.length} input blob(s) are not uploaded for this API key: ${listSome(missing, 10)} ` +
        `(used by ${listSome(affected)}). Upload them with PUT /v1/blobs or POST /v1/blobs/uploads first.`,
      { missing, items: affected.slice(0, 1000) },
    );
  }
}
