// One batch: live counts over Server-Sent Events, its items a page at a time (a 10,000-item
// batch renders one page, never all), posters, the player, retry, package and share.
import { createParser } from "/ui/vendor/eventsource-parser.js";
import { $, bytes, cell, onLeave, show } from "./dom.js";
import { api, key } from "./session.js";

const PAGE_SIZE = 100;

export function percent(counts, total) {
  return total ? Math.round((100 * (counts.succeeded + counts.failed)) / total) : 100;
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

function itemDetail(item) {
  if (item.error) return item.error;
  if (!item.output) return "";
  const noFace = item.face?.framesWithoutFace
    ? ` · no face in ${item.face.framesWithoutFace} of ${item.face.frames} frames (passed through unchanged)`
    : "";
  return `${bytes(item.output.size)} · sha256 ${item.output.sha256.slice(0, 16)}…${noFace}`;
}

export async function batchView(id) {
  show("batch-view");
  $("batch-id").textContent = id;
  /** Rows of the page on screen, by job key (several items may share one). */
  let rows = new Map();
  const cursors = [0]; // cursor of each page shown so far; the last is the current page's
  let nextCursor = null;

  async function refresh() {
    const b = await api("GET", `/v1/batches/${id}`);
    const bar = $("batch-progress");
    if (!bar) return;
    bar.value = percent(b.counts, b.total);
    bar.setAttribute("aria-valuetext", `${bar.value} percent`);
    $("batch-counts").textContent =
      `${bar.value} % · ${b.counts.succeeded} succeeded, ${b.counts.failed} failed, ${b.counts.running} running, ${b.counts.pending} pending of ${b.total}`;
    $("retry").hidden = b.counts.failed === 0;
  }

  function itemRow(item) {
    const tr = document.createElement("tr");
    tr.dataset.index = String(item.index);
    let output = "";
    if (item.poster) {
      const img = document.createElement("img");
      img.className = "poster";
      img.loading = "lazy";
      img.src = item.poster;
      img.alt = `Play ${item.name}`;
      img.addEventListener("click", () => play(item.index));
      img.addEventListener("error", () => img.remove());
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Play";
      button.addEventListener("click", () => play(item.index));
      output = document.createElement("div");
      output.append(img, button);
    } else if (item.state === "failed") {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Retry";
      button.title = "Queue this batch's failed items again";
      button.addEventListener("click", retry);
      output = button;
    }
    tr.append(
      cell(String(item.index)),
      cell(output),
      cell(item.name),
      cell(item.state, `state-${item.state}`),
      cell(itemDetail(item)),
    );
    rows.set(item.jobKey, [...(rows.get(item.jobKey) ?? []), tr]);
    return tr;
  }

  function loadPage() {
    return showPage().catch((err) => {
      if ($("page-info")) $("page-info").textContent = `Could not load items: ${err.message}`;
    });
  }

  async function showPage() {
    const state = $("state-filter").value;
    const cursor = cursors[cursors.length - 1];
    const page = await api(
      "GET",
      `/v1/batches/${id}/items?limit=${PAGE_SIZE}&posters=true&cursor=${cursor}${state ? `&state=${state}` : ""}`,
    );
    if (!$("item-rows")) return;
    rows = new Map();
    const fragment = document.createDocumentFragment();
    for (const item of page.items) fragment.append(itemRow(item));
    $("item-rows").replaceChildren(fragment);
    nextCursor = page.nextCursor;
    const first = page.items[0]?.index;
    const last = page.items.at(-1)?.index;
    $("page-info").textContent = page.items.length
      ? `items ${first}–${last}${state ? ` (${state})` : ""}`
      : `no ${state || ""} items here`;
    $("prev").disabled = cursors.length === 1;
    $("next").disabled = !nextCursor;
  }

  async function play(index) {
    const media = await api("GET", `/v1/batches/${id}/items/${index}/media`);
    $("player").hidden = false;
    $("player-name").textContent = `#${index} ${media.name}`;
    const video = $("player-video");
    video.poster = media.poster ?? "";
    video.src = media.url; // a <video> plays audio outputs too, over their waveform picture
    $("player-size").textContent = `${bytes(media.size)} (${media.size} bytes)`;
    $("player-sha256").textContent = media.sha256;
    $("player-duration").textContent = "…";
    video.addEventListener(
      "loadedmetadata",
      () => {
        $("player-duration").textContent = `${video.duration.toFixed(2)} s`;
      },
      { once: true },
    );
    $("player").scrollIntoView({ block: "nearest" });
    await video.play().catch(() => {}); // autoplay may be refused; the controls remain
  }

  async function retry() {
    const { retried } = await api("POST", `/v1/batches/${id}/retry`);
    $("batch-counts").textContent = `${retried} failed items queued again`;
    await refresh();
    await loadPage();
  }

  await refresh();
  await loadPage();

  $("state-filter").addEventListener("change", () => {
    cursors.splice(1);
    loadPage();
  });
  $("next").addEventListener("click", () => {
    if (!nextCursor) return;
    cursors.push(Number(nextCursor));
    loadPage();
  });
  $("prev").addEventListener("click", () => {
    if (cursors.length > 1) cursors.pop();
    loadPage();
  });

  let reloading = false;
  const stop = followEvents(id, async (event) => {
    if (event.type === "item") {
      for (const tr of rows.get(event.jobKey) ?? []) {
        tr.children[3].textContent = event.state;
        tr.children[3].className = `state-${event.state}`;
        tr.children[4].textContent = event.error ?? "";
      }
      // A finished item on screen gets its poster and details from a reload of the page.
      if ((event.state === "succeeded" || event.state === "failed") && rows.has(event.jobKey) && !reloading) {
        reloading = true;
        setTimeout(() => {
          reloading = false;
          loadPage();
        }, 500);
      }
      await refresh();
    }
    if (event.type === "package") showPackageProgress(event);
  });
  onLeave(stop);

  $("retry").addEventListener("click", retry);
  $("package").addEventListener("click", async (e) => {
    e.target.disabled = true;
    $("package-section").hidden = false;
    try {
      const created = await api("POST", `/v1/batches/${id}/packages`, {});
      await pollPackage(id, created.id);
    } catch (err) {
      $("package-state").textContent = `Packaging failed: ${err.message}`;
    } finally {
      e.target.disabled = false;
    }
  });
}

function showPackageProgress(p) {
  const state = $("package-state");
  const bar = $("package-progress");
  if (!state || !bar) return;
  state.textContent = `Package ${p.id ?? p.packageId}: ${p.state}`;
  const done = p.bytesWritten ?? p.bytes;
  if (p.totalBytes) bar.value = Math.round((100 * (done ?? 0)) / p.totalBytes);
  if (p.state === "ready") bar.value = 100;
}

/** The plain text "Copy links" gives: what a chat message needs to fetch and check the parts. */
export function linksText(batchId, p) {
  const expires = new Date(p.expiresAt).toISOString();
  return [
    `mediaq batch ${batchId}, package ${p.id}: ${p.parts.length} part(s), links expire ${expires}`,
    ...p.parts.map((part) => `${part.name} (${bytes(part.size)}): ${part.url}`),
    "",
    "SHA256SUMS",
    ...p.parts.map((part) => `${part.sha256}  ${part.name}`),
    "",
  ].join("\n");
}

async function pollPackage(batchId, id) {
  for (;;) {
    const p = await api("GET", `/v1/packages/${id}`);
    showPackageProgress(p);
    if (p.state === "failed") throw new Error(p.error ?? "unknown error");
    if (p.state === "ready") {
      const rows = $("part-rows");
      rows.replaceChildren();
      for (const part of p.parts) {
        const tr = document.createElement("tr");
        const a = document.createElement("a");
        a.href = part.url;
        a.textContent = part.name;
        a.setAttribute("download", part.name);
        tr.append(cell(a), cell(bytes(part.size)), cell(part.sha256, "hash"));
        rows.append(tr);
      }
      const extras = $("package-extras");
      extras.replaceChildren();
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
      const copy = $("copy-links");
      copy.hidden = false;
      copy.onclick = async () => {
        const text = linksText(batchId, p);
        const box = $("links-text");
        box.value = text;
        box.hidden = false;
        box.select();
        // The clipboard may be refused (no permission); the selected text is there to copy by hand.
        await navigator.clipboard?.writeText(text).catch(() => {});
        copy.textContent = "Links copied";
      };
      return;
    }
    await new Promise((r) => setTimeout(r, 700));
  }
}
