// Webhook endpoints of the tenant, and one endpoint's dead letters and deliveries.
import { $, cell, show } from "./dom.js";
import { api } from "./session.js";

export async function webhooksView() {
  show("webhooks-view");
  const { webhooks } = await api("GET", "/v1/webhooks");
  $("no-webhooks").hidden = webhooks.length > 0;
  for (const w of webhooks) {
    const link = document.createElement("a");
    link.href = `#/webhooks/${w.id}`;
    link.textContent = w.id;
    const first = document.createElement("td");
    first.append(link);
    const tr = document.createElement("tr");
    tr.append(first, cell(w.url), cell(w.events.join(", ")));
    $("webhook-rows").append(tr);
  }
}

/** One endpoint's dead letters and recent deliveries (a batch's own endpoint is reached by its id too). */
export async function webhookView(id) {
  show("webhook-view");
  const [endpoint, dead, delivered] = await Promise.all([
    api("GET", `/v1/webhooks/${id}`),
    api("GET", `/v1/webhooks/${id}/deliveries?state=dead`),
    api("GET", `/v1/webhooks/${id}/deliveries?state=delivered&limit=50`),
  ]);
  $("webhook-id").textContent = endpoint.id;
  $("webhook-url").textContent = `${endpoint.url} (${endpoint.events.join(", ")})`;
  $("no-dead").hidden = dead.deliveries.length > 0;
  for (const [rows, list, last] of [
    ["dead-rows", dead.deliveries, (d) => d.error ?? ""],
    ["delivered-rows", delivered.deliveries, (d) => String(d.status ?? "")],
  ]) {
    for (const d of list) {
      const tr = document.createElement("tr");
      tr.append(
        cell(new Date(d.at).toLocaleString()),
        cell(d.type),
        cell(d.batchId),
        cell(String(d.attempts)),
        cell(last(d), rows === "dead-rows" ? "error" : undefined),
      );
      $(rows).append(tr);
    }
  }
}
