import dns from "node:dns";
import {
  checkWebhookUrl,
  type DeliveryRecord,
  type DeliveryState,
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

  async create(
    tenant: string,
    body: { url: string; events?: WebhookEventType[] },
    batchId?: string,
  ): Promise<WebhookEndpointView> {
    await this.checkUrl(body.url);
    const events = body.events && body.events.length > 0 ? [...new Set(body.events)] : [...WEBHOOK_EVENTS];
    const endpoint = await this.deps.ledger.webhooks.create({
      tenant,
      url: body.url,
      events,
      ...(batchId ? { batchId } : {}),
    });
    return view(endpoint, true);
  }

  async list(tenant: string): Promise<WebhookEndpointView[]> {
    return (await this.deps.ledger.webhooks.list(tenant)).map((e) => view(e));
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

  /** Subscribes a new batch: its own webhook (if any) and the tenant's endpoints. */
  async subscribeBatch(
    tenant: string,
    batch: { id: string; createdAt: string },
    webhook?: { url: string; events?: WebhookEventType[] },
  ): Promise<WebhookEndpointView | undefined> {
    const own = webhook ? await this.create(tenant, webhook, batch.id) : undefined;
    await this.deps.ledger.webhooks.watchBatch(tenant, batch.id, batch.createdAt);
    return own;
  }

  private async own(tenant: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.deps.ledger.webhooks.get(id);
    if (!endpoint || endpoint.tenant !== tenant) throw notFound("webhook", id);
    return endpoint;
  }
}
