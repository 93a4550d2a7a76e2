import dns from "node:dns";
import {
  checkWebhookUrl,
  type DeliveryRecord,
  type DeliveryState,
  newWebhookEndpoint,
  resolveAllowed,
  WEBHOOK_EVENTS,
  type WebhookEndpoint,
  type WebhookEndpointView,
  type WebhookEventType,
} from "@mediaq/shared";
import type { ApiDeps } from "../deps.ts";
import { badRequest, notFound } from "../problem.ts";

const view = (e: WebhookEndpoint, withSecret = false): WebhookEndpointView => ({
  id: e.id,
  url: e.url,
  events: e.events,
  ...(e.batchId ? { batchId: e.batchId } : {}),
  createdAt: e.createdAt,
  ...(withSecret ? { secret: e.secret } : {}),
});

const eventsOf = (body: { events?: WebhookEventType[] }): WebhookEventType[] =>
  body.events && body.events.length > 0 ? [...new Set(body.events)] : [...WEBHOOK_EVENTS];

const systemResolve = (hostname: string) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** Webhook endpoints of a tenant (docs/architecture.md#webhooks). */
export class WebhookService {
  private readonly deps: ApiDeps;

  constructor(deps: ApiDeps) {
    this.deps = deps;
  }

  /**
   * Checks a URL at registration: scheme, and every address its host resolves to now. The
   * notifier checks again at connect time, so a later DNS change does not get through.
   */
  async checkUrl(url: string): Promise<void> {
    const { config, options } = this.deps;
    const policy = { allowHttp: config.WEBHOOK_ALLOW_HTTP, allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS };
    try {
      const parsed = checkWebhookUrl(url, policy);
      await resolveAllowed(parsed.hostname, options?.webhookResolve ?? systemResolve, policy);
    } catch (err) {
      throw badRequest("webhook-url-refused", `Webhook URL refused: ${(err as Error).message}.`, { url });
    }
  }

  /** Registers a tenant-wide endpoint; the answer shows its secret, this once. */
  async create(tenant: string, body: { url: string; events?: WebhookEventType[] }): Promise<WebhookEndpointView> {
    await this.checkUrl(body.url);
    const endpoint = await this.deps.ledger.webhooks.create({ tenant, url: body.url, events: eventsOf(body) });
    return view(endpoint, true);
  }

  /**
   * A batch's own endpoint, to be written with the batch (BatchLedger.create), so no crash
   * leaves the batch unsubscribed. The URL must have passed checkUrl.
   */
  ownEndpoint(tenant: string, batchId: string, body: { url: string; events?: WebhookEventType[] }): WebhookEndpoint {
    return newWebhookEndpoint({ tenant, url: body.url, events: eventsOf(body), batchId });
  }

  /** A batch's own endpoint as its submitter sees it: with its secret (a replay shows it again). */
  async ownOf(batchId: string): Promise<WebhookEndpointView | undefined> {
    const own = await this.deps.ledger.webhooks.ownOf(batchId);
    return own ? view(own, true) : undefined;
  }

  /** The tenant's tenant-wide endpoints, or every endpoint that hears one of its batches. */
  async list(tenant: string, batchId?: string): Promise<WebhookEndpointView[]> {
    const { webhooks } = this.deps.ledger;
    const endpoints = batchId ? await webhooks.endpointsOf(batchId) : await webhooks.list(tenant);
    return endpoints
      .filter((e) => e.tenant === tenant)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((e) => view(e));
  }

  async get(tenant: string, id: string): Promise<WebhookEndpointView> {
    return view(await this.own(tenant, id));
  }

  async rotate(tenant: string, id: string): Promise<WebhookEndpointView> {
    await this.own(tenant, id);
    const next = await this.deps.ledger.webhooks.rotate(id);
    if (!next) throw notFound("webhook", id);
    return view(next, true);
  }

  async delete(tenant: string, id: string): Promise<void> {
    await this.deps.ledger.webhooks.delete(await this.own(tenant, id));
  }

  async deliveries(tenant: string, id: string, state: DeliveryState, limit: number): Promise<DeliveryRecord[]> {
    await this.own(tenant, id);
    return this.deps.ledger.webhooks.deliveries(id, state, limit);
  }

  private async own(tenant: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.deps.ledger.webhooks.get(id);
    if (!endpoint || endpoint.tenant !== tenant) throw notFound("webhook", id);
    return endpoint;
  }
}
