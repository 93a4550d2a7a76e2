// Submit from the page: files are paired by the CLI's own rules (shared/submission-plan.ts),
// hashed here with hash-wasm while streaming, and only blobs the API key lacks are PUT
// straight to S3 through presigned URLs, then completed. The batch is created with the
// CLI's Idempotency-Key, so a second click or a reload finds the same batch.
import { parse as parseCsv } from "/ui/vendor/csv-parse.js";
import { createSHA256, sha256 } from "/ui/vendor/hash-wasm.js";
import {
  avatarPlan,
  csvPlan,
  duplicateNames,
  isVideo,
  pairFiles,
  scriptPlan,
  submissionBody,
  submitInChunks,
} from "/ui/shared/submission-plan.ts";
import { $, bytes, cell, onLeave, show } from "./dom.js";
import { api } from "./session.js";

/** Files uploaded at once (the CLI's UPLOAD_CONCURRENCY). */
const UPLOAD_CONCURRENCY = 4;
/** Attempts per file: a dropped connection re-offers the blob and PUTs it again. */
const UPLOAD_ATTEMPTS = 5;

const pathOf = (file) => file.webkitRelativePath || file.relativePath || file.name;

/** Every file under a dropped entry (folders walked). */
async function filesOfEntry(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    file.relativePath = entry.fullPath.replace(/^\//, "");
    return [file];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    for (const e of batch) out.push(...(await filesOfEntry(e)));
  }
}

/** SHA-256 of a File, streamed through hash-wasm; remembered per name, size and date for a reload. */
async function hashFile(file, onBytes) {
  const memo = `mediaq.sha256:${pathOf(file)}:${file.size}:${file.lastModified}`;
  const known = localStorage.getItem(memo);
  if (known) return known;
  const hasher = await createSHA256();
  const reader = file.stream().getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    hasher.update(value);
    onBytes(value.length);
  }
  const hex = hasher.digest("hex");
  localStorage.setItem(memo, hex);
  return hex;
}

/** PUT with upload progress (fetch reports none). The browser sets content-length itself. */
function putPresigned(offer, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", offer.url);
    for (const [name, value] of Object.entries(offer.headers ?? {}))
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`storage answered ${xhr.status}`)));
    xhr.onerror = () => reject(new Error("the connection dropped"));
    xhr.send(file);
  });
}

/** An item's files by input name: {video, audio}, a script's {video, text} or {text}, a face swap's {video, face}. */
const inputFiles = (i) =>
  i.face !== undefined
    ? { video: i.video, face: i.face }
    : i.text === undefined
      ? { video: i.video, audio: i.audio }
      : i.video
        ? { video: i.video, text: i.text }
        : { text: i.text };
/** The name a typed script goes by among the files. */
const TYPED_SCRIPT = "typed-script.txt";
/** Where the picked source face goes among the files (apart from the dropped ones). */
const SOURCE_FACE = "source-face/";
const isFaceImage = (p) => /\.(png|jpe?g)$/i.test(p);

/** Face swap: every dropped video gets the source face (docs/architecture.md#face-swap). */
function swapPlan(paths, face) {
  const dropped = paths.filter((p) => !p.startsWith(SOURCE_FACE));
  const videos = dropped.filter(isVideo).sort();
  const refused = dropped.filter((p) => !isVideo(p)).map((file) => ({ file, reason: "not a video (.mp4)" }));
  if (!face) return { items: [], refused: [...refused, { file: "(source face)", reason: "pick a source face image" }] };
  if (!isFaceImage(face))
    return { items: [], refused: [...refused, { file: face, reason: "the source face is not a PNG or JPEG" }] };
  return { items: videos.map((video) => ({ name: video.split("/").pop(), video, face })), refused };
}

/** Runs fn over items, at most `n` at once. */
async function pool(items, n, fn) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      while (queue.length) await fn(queue.shift());
    }),
  );
}

export async function submitView() {
  show("submit-view");
  let files = new Map(); // path -> File
  let plan = { items: [], refused: [] };
  let busy = false;

  api("GET", "/v1/models")
    .then(({ models }) => {
      for (const m of models) {
        const option = document.createElement("option");
        option.value = m.tag;
        $("model-tags")?.append(option);
        // Voices speak scripts (docs/architecture.md#script-to-video).
        if (m.adapter === "piper") $("voice")?.append(new Option(m.tag, m.tag));
        // A face swap's batch model is a swapper; its recognizer is a param (docs/architecture.md#face-swap).
        if (m.adapter === "inswapper") $("swapper")?.append(new Option(m.tag, m.tag));
        if (m.adapter === "arcface") $("recognizer")?.append(new Option(m.tag, m.tag));
      }
    })
    .catch(() => {});

  const mode = () => document.querySelector('input[name="mode"]:checked').value;

  async function replan() {
    // A typed script is one more .txt file.
    const typed = $("script-text").value.trim();
    if (mode() === "scripts" && typed) files.set(TYPED_SCRIPT, new File([typed], TYPED_SCRIPT, { type: "text/plain" }));
    else files.delete(TYPED_SCRIPT);
    // The picked source face is one more file.
    for (const p of files.keys()) if (p.startsWith(SOURCE_FACE)) files.delete(p);
    const face = $("face").files[0];
    const facePath = face && mode() === "swap" ? SOURCE_FACE + face.name : undefined;
    if (facePath) files.set(facePath, face);
    const paths = [...files.keys()];
    $("avatar-choice").hidden = mode() !== "avatar";
    $("script-choice").hidden = mode() !== "scripts";
    $("swap-choice").hidden = mode() !== "swap";
    // Model, length, loop and box are lip-sync settings; a face swap picks its models above.
    $("settings").hidden = mode() === "swap";
    if (mode() === "swap") {
      plan = swapPlan(paths, facePath);
    } else if (mode() === "scripts") {
      plan = scriptPlan(paths);
    } else if (mode() === "avatar") {
      const select = $("avatar");
      const videos = paths.filter(isVideo);
      const chosen = select.value;
      select.replaceChildren(...videos.map((v) => new Option(v, v, false, v === chosen)));
      plan = videos.length
        ? avatarPlan(select.value, paths)
        : { items: [], refused: paths.map((file) => ({ file, reason: "no video (.mp4) to use as the avatar" })) };
    } else if (mode() === "csv") {
      const csv = paths.find((p) => p.toLowerCase().endsWith(".csv"));
      if (!csv) plan = { items: [], refused: [{ file: "(none)", reason: "no .csv among the files" }] };
      else {
        const rows = parseCsv(await files.get(csv).text(), { columns: true, skip_empty_lines: true, trim: true });
        // CSV paths are relative to the CSV, as in the CLI.
        const base = csv.includes("/") ? csv.slice(0, csv.lastIndexOf("/") + 1) : "";
        const p = csvPlan(rows);
        const resolve = (f) => (files.has(base + f) ? base + f : f);
        const items = p.items.map((i) => ({ ...i, video: resolve(i.video), audio: resolve(i.audio) }));
        const missing = items.flatMap((i) =>
          [i.video, i.audio]
            .filter((f) => !files.has(f))
            .map((f) => ({ file: f, reason: `${i.name}: not among the files` })),
        );
        const used = new Set(items.flatMap((i) => [i.video, i.audio]));
        plan = {
          items: missing.length ? items.filter((i) => files.has(i.video) && files.has(i.audio)) : items,
          refused: [
            ...p.refused,
            ...missing,
            ...paths
              .filter((f) => f !== csv && !used.has(f))
              .map((file) => ({ file, reason: "the CSV does not name it" })),
          ],
        };
      }
    } else plan = pairFiles(paths);
    for (const name of duplicateNames(plan.items))
      plan.refused.push({ file: name, reason: "the name appears twice; names in a batch are unique" });
    render();
  }

  function render() {
    $("item-count").textContent = `(${plan.items.length})`;
    $("plan-rows").replaceChildren(
      ...plan.items.map((i) => {
        const tr = document.createElement("tr");
        tr.append(cell(i.name), cell(i.video ?? ""), cell(i.audio ?? i.text ?? i.face));
        return tr;
      }),
    );
    $("refused-section").hidden = plan.refused.length === 0;
    $("refused").replaceChildren(
      ...plan.refused.map((r) => {
        const li = document.createElement("li");
        li.dataset.file = r.file;
        li.textContent = `${r.file}: ${r.reason}`;
        return li;
      }),
    );
    const used = [...new Set(plan.items.flatMap((i) => Object.values(inputFiles(i))))];
    $("file-rows").replaceChildren(
      ...used.map((p) => {
        const tr = document.createElement("tr");
        tr.dataset.file = p;
        const bar = document.createElement("progress");
        bar.max = 1;
        bar.value = 0;
        tr.append(cell(p), cell(bytes(files.get(p).size)), cell(bar), cell("waiting", "file-state"));
        return tr;
      }),
    );
    $("submit").disabled = busy || plan.items.length === 0;
  }

  async function addFiles(list) {
    files = new Map(list.map((f) => [pathOf(f), f]));
    await replan();
  }

  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
    const list = entries.length ? (await Promise.all(entries.map(filesOfEntry))).flat() : [...e.dataTransfer.files];
    await addFiles(list);
  });
  for (const id of ["pick-folder", "pick-files"])
    $(id).addEventListener("change", (e) => addFiles([...e.target.files]));
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", replan);
  $("avatar").addEventListener("change", replan);
  $("script-text").addEventListener("change", replan);
  $("face").addEventListener("change", replan);

  /** Scripts alone are speech items: the voice is the batch's model, with its own params. */
  const speechOnly = () => mode() === "scripts" && plan.items.every((i) => !i.video);

  function params() {
    if (speechOnly()) return {};
    if (mode() === "swap") {
      if (!$("swapper").value) throw new Error("Swapper: register an inswapper model to swap faces");
      if (!$("recognizer").value) throw new Error("Recognizer: register an arcface model to swap faces");
      return { recognizer: $("recognizer").value };
    }
    const out = { length: $("length").value, loop: $("loop").value };
    if (mode() === "scripts") {
      if (!$("voice").value) throw new Error("Voice: register a piper voice to speak scripts");
      out.voice = $("voice").value;
    }
    const box = $("box").value.trim();
    if (box) {
      const nums = box.split(/[\s,]+/).map(Number);
      if (nums.length !== 4 || nums.some((n) => !Number.isInteger(n) || n < 0))
        throw new Error("Face box: four whole numbers x, y, width, height");
      out.box = nums;
    }
    return out;
  }

  $("submit").addEventListener("click", async () => {
    const error = $("submit-error");
    error.textContent = "";
    busy = true;
    $("submit").disabled = true;
    let left = false;
    onLeave(() => {
      left = true;
    });
    try {
      const batchParams = params();
      const used = [...new Set(plan.items.flatMap((i) => Object.values(inputFiles(i))))];
      const total = used.reduce((n, p) => n + files.get(p).size, 0);
      const sent = new Map(); // path -> bytes done (hashing and uploading both count)
      const rowOf = (p) => document.querySelector(`#file-rows tr[data-file="${CSS.escape(p)}"]`);
      const status = (p, text, fraction) => {
        const tr = rowOf(p);
        if (!tr) return;
        tr.querySelector(".file-state").textContent = text;
        if (fraction !== undefined) tr.querySelector("progress").value = fraction;
      };
      const overall = (label) => {
        const done = [...sent.values()].reduce((a, b) => a + b, 0);
        if ($("overall")) $("overall").value = total ? done / (2 * total) : 1;
        if ($("overall-text")) $("overall-text").textContent = `${label}: ${bytes(done / 2)} of ${bytes(total)}`;
      };

      // Hash every file (remembered across reloads).
      const hashes = new Map();
      for (const p of used) {
        const file = files.get(p);
        let done = 0;
        status(p, "hashing", 0);
        hashes.set(
          p,
          await hashFile(file, (n) => {
            done += n;
            sent.set(p, done);
            status(p, "hashing", done / file.size / 2);
            overall("hashing");
          }),
        );
        sent.set(p, file.size);
        overall("hashing");
      }

      // Upload what the key lacks; a finished file (the offer says the blob exists) is never re-sent.
      await pool(used, UPLOAD_CONCURRENCY, async (p) => {
        const file = files.get(p);
        for (let attempt = 1; ; attempt++) {
          try {
            const offer = await api("POST", "/v1/blobs/uploads", { sha256: hashes.get(p), size: file.size });
            if (offer.exists) {
              status(p, "on the server already", 1);
            } else {
              status(p, "uploading", 0.5);
              await putPresigned(offer, file, (loaded) => {
                sent.set(p, file.size + loaded);
                status(p, `uploading ${Math.round((100 * loaded) / file.size)} %`, 0.5 + loaded / file.size / 2);
                overall("uploading");
              });
              await api("POST", offer.complete);
              status(p, "uploaded", 1);
            }
            sent.set(p, 2 * file.size);
            overall("uploading");
            return;
          } catch (err) {
            if (left || attempt >= UPLOAD_ATTEMPTS) throw new Error(`${p}: ${err.message}`);
            status(p, `${err.message}; trying again`, undefined);
            await new Promise((r) => setTimeout(r, 1000 * attempt));
          }
        }
      });
      overall("uploaded");

      const model = speechOnly() ? $("voice").value : mode() === "swap" ? $("swapper").value : $("model").value.trim();
      const body = submissionBody({ model, params: batchParams, items: [] });
      body.items = plan.items.map((i) => ({
        name: i.name,
        inputs: Object.fromEntries(Object.entries(inputFiles(i)).map(([k, p]) => [k, hashes.get(p)])),
      }));
      const [batch] = await submitInChunks(
        {
          createBatch: (b, idempotencyKey) => api("POST", "/v1/batches", b, { "idempotency-key": idempotencyKey }),
          appendItems: (id, items) => api("POST", `/v1/batches/${id}/items`, { items }),
        },
        body,
        sha256,
      );
      if (!left) location.hash = `#/batches/${batch.id}`;
    } catch (err) {
      if ($("submit-error")) $("submit-error").textContent = `Not submitted: ${err.message}`;
    } finally {
      busy = false;
      if ($("submit")) $("submit").disabled = plan.items.length === 0;
    }
  });
}
