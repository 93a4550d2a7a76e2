// The mediaq web page: sign in with an API key, follow batches live, retry, package, download,
// and see webhook endpoints with their dead letters.
// Plain ES modules, no framework. Events come over Server-Sent Events read with fetch (so the
// key travels in the Authorization header, not in the URL) and resume with Last-Event-ID.
import { createParser } from "/ui/vendor/eventsource-parser.js";

const view = document.getElementById("view");
const signout = document.getElementById("signout");
let leaveView = () => {};

// The key lives in sessionStorage (gone when the tab closes) unless "Remember me" was
// ticked, which keeps it in localStorage. The page runs no inline or foreign script (its
// Content-Security-Policy forbids both), which is what keeps either store out of reach.
const KEY = "mediaq.apiKey";
const key = () => sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
function storeKey(value, remember) {
  forgetKey();
  (remember ? localStorage : sessionStorage).setItem(KEY, value);
}
function forgetKey() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${key()}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) {
    forgetKey();
    route();
  }
  if (!res.ok) throw new Error(data.detail || data.title || `HTTP ${res.status}`);
  return data;
}

function show(templateId) {
  leaveView();
  leaveView = () => {};
  view.replaceChildren(document.getElementById(templateId).content.cloneNode(true));
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function percent(counts, total) {
  return total ? Math.round((100 * (counts.succeeded + counts.failed)) / total) : 100;
}

function signInView() {
  show("signin-view");
  signout.hidden = true;
  document.getElementById("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    storeKey(document.getElementById("apikey").value.trim(), document.getElementById("remember").checked);
    try {
      await api("GET", "/v1/batches");
      route();
    } catch (err) {
      document.getElementById("signin-error").textContent = `Sign-in failed: ${err.message}`;
    }
  });
}

async function batchesView() {
  show("batches-view");
  const { batches } = await api("GET", "/v1/batches");
  const rows = document.getElementById("batch-rows");
  document.getElementById("no-batches").hidden = batches.length > 0;
  for (const b of batches) {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/batches/${b.id}`;
    link.textContent = b.id;
    const first = document.createElement("td");
    first.append(link);
    tr.append(
      first,
      cell(new Date(b.createdAt).toLocaleString()),
      cell(`${percent(b.counts, b.total)} % of ${b.total}`),
      cell(String(b.counts.failed)),
    );
    rows.append(tr);
  }
}

/** Follows a batch's event stream; reconnects with Last-Event-ID so nothing is missed. */
function followEvents(batchId, onEvent) {
  const abort = new AbortController();
  let lastEventId = "";
  (async () => {
    while (!abort.signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${key()}`, accept: "text/event-stream" };
        if (lastEventId) headers["last-event-id"] = lastEventId;
        const res = await fetch(`/v1/batches/${batchId}/events`, { headers, signal: abort.signal });
        const parser = createParser({
          onEvent(msg) {
            if (msg.id) lastEventId = msg.id;
            if (msg.data) onEvent(JSON.parse(msg.data));
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch {
        // dropped: reconnect below
      }
      if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => abort.abort();
}

async function batchView(id) {
  show("batch-view");
  document.getElementById("batch-id").textContent = id;
  const rows = new Map();

  async function refresh() {
    const b = await api("GET", `/v1/batches/${id}`);
    const bar = document.getElementById("batch-progress");
    if (!bar) return;
    bar.value = percent(b.counts, b.total);
    bar.setAttribute("aria-valuetext", `${bar.value} percent`);
    document.getElementById("batch-counts").textContent =
      `${bar.value} % · ${b.counts.succeeded} succeeded, ${b.counts.failed} failed, ${b.counts.running} running, ${b.counts.pending} pending of ${b.total}`;
    document.getElementById("retry").hidden = b.counts.failed === 0;
  }

  function renderItem(item) {
    let tr = rows.get(item.jobKey)?.find((r) => r.dataset.index === String(item.index));
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.index = String(item.index);
      document.getElementById("item-rows").append(tr);
      rows.set(item.jobKey, [...(rows.get(item.jobKey) ?? []), tr]);
    }
    const noFace = item.face?.framesWithoutFace
      ? ` · no face in ${item.face.framesWithoutFace} of ${item.face.frames} frames (passed through unchanged)`
      : "";
    const detail =
      item.error ??
      (item.output ? `${bytes(item.output.size)} · sha256 ${item.output.sha256.slice(0, 16)}…${noFace}` : "");
    tr.replaceChildren(
      cell(String(item.index)),
      cell(item.name),
      cell(item.state, `state-${item.state}`),
      cell(detail),
    );
  }

  async function loadItems() {
    let cursor;
    do {
      const page = await api("GET", `/v1/batches/${id}/items?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      page.items.forEach(renderItem);
      cursor = page.nextCursor;
    } while (cursor);
  }

  await refresh();
  await loadItems();
  let pending = false;
  const stop = followEvents(id, async (event) => {
    if (event.type === "item") {
      for (const tr of rows.get(event.jobKey) ?? []) {
        tr.children[2].textContent = event.state;
        tr.children[2].className = `state-${event.state}`;
        tr.children[3].textContent = event.error ?? "";
      }
      if (event.state === "succeeded" && !pending) {
        pending = true;
        setTimeout(() => {
          pending = false;
          loadItems();
        }, 500);
      }
      await refresh();
    }
    if (event.type === "package") showPackageProgress(event);
  });
  leaveView = stop;

  document.getElementById("retry").addEventListener("click", async () => {
    const { retried } = await api("POST", `/v1/batches/${id}/retry`);
    document.getElementById("batch-counts").textContent = `${retried} failed items queued again`;
    await refresh();
  });
  document.getElementById("package").addEventListener("click", async (e) => {
    e.target.disabled = true;
    document.getElementById("package-section").hidden = false;
    try {
      const created = await api("POST", `/v1/batches/${id}/packages`, {});
      await pollPackage(created.id);
    } catch (err) {
      document.getElementById("package-state").textContent = `Packaging failed: ${err.message}`;
    } finally {
      e.target.disabled = false;
    }
  });
}

function showPackageProgress(p) {
  const state = document.getElementById("package-state");
  const bar = document.getElementById("package-progress");
  if (!state || !bar) return;
  state.textContent = `Package ${p.id ?? p.packageId}: ${p.state}`;
  const done = p.bytesWritten ?? p.bytes;
  if (p.totalBytes) bar.value = Math.round((100 * (done ?? 0)) / p.totalBytes);
  if (p.state === "ready") bar.value = 100;
}

async function pollPackage(id) {
  for (;;) {
    const p = await api("GET", `/v1/packages/${id}`);
    showPackageProgress(p);
    if (p.state === "failed") throw new Error(p.error ?? "unknown error");
    if (p.state === "ready") {
      const rows = document.getElementById("part-rows");
      rows.replaceChildren();
      for (const part of p.parts) {
        const tr = document.createElement("tr");
        const a = document.createElement("a");
        a.href = part.url;
        a.textContent = part.name;
        a.setAttribute("download", part.name);
        const td = document.createElement("td");
        td.append(a);
        tr.append(td, cell(bytes(part.size)), cell(part.sha256, "hash"));
        rows.append(tr);
      }
      const extras = document.getElementById("package-extras");
      extras.innerHTML = "";
      for (const [label, link] of [
        ["manifest.json", p.manifest],
        ["SHA256SUMS", p.sha256sums],
      ]) {
        if (!link) continue;
        const a = document.createElement("a");
        a.href = link.url;
        a.textContent = label;
        extras.append(a, " ");
      }
      extras.append(`· links expire ${new Date(p.expiresAt).toLocaleString()}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 700));
  }
}

async function webhooksView() {
  show("webhooks-view");
  const { webhooks } = await api("GET", "/v1/webhooks");
  document.getElementById("no-webhooks").hidden = webhooks.length > 0;
  for (const w of webhooks) {
    const link = document.createElement("a");
    link.href = `#/webhooks/${w.id}`;
    link.textContent = w.id;
    const first = document.createElement("td");
    first.append(link);
    const tr = document.createElement("tr");
    tr.append(first, cell(w.url), cell(w.events.join(", ")));
    document.getElementById("webhook-rows").append(tr);
  }
}

/** One endpoint's dead letters and recent deliveries (a batch's own endpoint is reached by its id too). */
async function webhookView(id) {
  show("webhook-view");
  const [endpoint, dead, delivered] = await Promise.all([
    api("GET", `/v1/webhooks/${id}`),
    api("GET", `/v1/webhooks/${id}/deliveries?state=dead`),
    api("GET", `/v1/webhooks/${id}/deliveries?state=delivered&limit=50`),
  ]);
  document.getElementById("webhook-id").textContent = endpoint.id;
  document.getElementById("webhook-url").textContent = `${endpoint.url} (${endpoint.events.join(", ")})`;
  document.getElementById("no-dead").hidden = dead.deliveries.length > 0;
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
      document.getElementById(rows).append(tr);
    }
  }
}

function route() {
  if (!key()) return signInView();
  signout.hidden = false;
  const m = /^#\/batches\/([\w-]+)/.exec(location.hash);
  const w = /^#\/webhooks(?:\/(wh_[0-9a-f]+))?/.exec(location.hash);
  (m ? batchView(m[1]) : w ? (w[1] ? webhookView(w[1]) : webhooksView()) : batchesView()).catch((err) => {
    view.textContent = `Error: ${err.message}`;
  });
}

signout.addEventListener("click", () => {
  forgetKey();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
