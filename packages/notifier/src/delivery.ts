import { checkWebhookUrl, type UrlPolicy, type WebhookEndpoint } from "@mediaq/shared";
import { Webhook } from "standardwebhooks";
import { type Dispatcher, request } from "undici";

/** One delivery job: the same `webhookId` on every attempt (docs/architecture.md#webhooks). */
export interface DeliveryJob {
  webhookId: string;
  endpointId: string;
  batchId: string;
  type: string;
  /** The JSON body, fixed when the event was read so every attempt sends the same bytes. */
  body: string;
}

export interface AttemptResult {
  status: number;
}

/** An attempt the address check refused: retrying cannot help. */
export class RefusedAddressError extends Error {
  override name = "RefusedAddressError";
}

/**
 * Sends one attempt: signed (webhook-id, webhook-timestamp, webhook-signature) with the
 * endpoint's current secret, at most `maxResponseBytes` of the answer read, 2xx = delivered.
 * Throws on anything else, which BullMQ retries with its backoff.
 */
export async function attemptDelivery(
  job: DeliveryJob,
  endpoint: WebhookEndpoint,
  o: { agent: Dispatcher; policy: UrlPolicy; timeoutMs: number; maxResponseBytes: number },
): Promise<AttemptResult> {
  let url: URL;
  try {
    url = checkWebhookUrl(endpoint.url, o.policy);
  } catch (err) {
    throw new RefusedAddressError((err as Error).message);
  }
  const timestamp = new Date();
  const signature = new Webhook(endpoint.secret).sign(job.webhookId, timestamp, job.body);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: "POST",
      dispatcher: o.agent,
      headers: {
        "content-type": "application/json",
        "user-agent": "mediaq-webhooks/1",
        "webhook-id": job.webhookId,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body: job.body,
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    if (e.code === "EWEBHOOKADDRESS" || e.cause?.code === "EWEBHOOKADDRESS")
      throw new RefusedAddressError(e.cause?.message ?? e.message);
    throw new Error(`no answer from ${url.origin}: ${e.cause?.message ?? e.message}`);
  }
  let read = 0;
  try {
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      if (read > o.maxResponseBytes) {
        res.body.destroy();
        throw new Error(`the answer exceeded ${o.maxResponseBytes} bytes`);
      }
    }
  } catch (err) {
    throw new Error(`reading the answer from ${url.origin}: ${(err as Error).message}`);
  }
  if (res.statusCode < 200 || res.statusCode >= 300)
    throw Object.assign(new Error(`${url.origin} answered ${res.statusCode}`), { status: res.statusCode });
  return { status: res.statusCode };
}
