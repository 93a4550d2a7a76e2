// The mediaq web page: sign in with an API key, submit, follow batches live, play, retry,
// package, download. Plain ES modules, no framework; routes are URL fragments
// (#/, #/submit, #/batches/<id>: `mediaq open <id>` prints the last).
import { batchView, percent } from "./batch.js";
import { $, cell, show, showError } from "./dom.js";
import { api, forgetKey, key, storeKey, whenSignedOut } from "./session.js";
import { submitView } from "./submit.js";
import { webhooksView, webhookView } from "./webhooks.js";

const signout = $("signout");

function signInView() {
  show("signin-view");
  signout.hidden = true;
  $("nav").hidden = true;
  $("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    storeKey($("apikey").value.trim(), $("remember").checked);
    try {
      await api("GET", "/v1/batches");
      route();
    } catch (err) {
      $("signin-error").textContent = `Sign-in failed: ${err.message}`;
    }
  });
}

async function batchesView() {
  show("batches-view");
  const { batches } = await api("GET", "/v1/batches");
  const rows = $("batch-rows");
  if (!rows) return; // another view showed meanwhile
  $("no-batches").hidden = batches.length > 0;
  for (const b of batches) {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/batches/${b.id}`;
    link.textContent = b.id;
    tr.append(
      cell(link),
      cell(new Date(b.createdAt).toLocaleString()),
      cell(`${percent(b.counts, b.total)} % of ${b.total}`),
      cell(String(b.counts.failed)),
    );
    rows.append(tr);
  }
}

let shown = 0; // which route() call the page shows: a late error of an earlier view is dropped
function route() {
  const current = ++shown;
  if (!key()) return signInView();
  signout.hidden = false;
  $("nav").hidden = false;
  const m = /^#\/batches\/([\w-]+)/.exec(location.hash);
  const w = /^#\/webhooks(?:\/(wh_[0-9a-f]+))?/.exec(location.hash);
  const view = m
    ? batchView(m[1])
    : w
      ? w[1]
        ? webhookView(w[1])
        : webhooksView()
      : location.hash === "#/submit"
        ? submitView()
        : batchesView();
  view.catch((err) => current === shown && showError(err));
}

whenSignedOut(route);
signout.addEventListener("click", () => {
  forgetKey();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
