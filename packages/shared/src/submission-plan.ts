// What a submission is made of, for the CLI and the web page alike: the page loads this file
// (packages/api/src/plugins/web.ts serves it with its types stripped), so it imports nothing
// but canonical-json.ts and runs in Node and in browsers (docs/architecture.md#submitting).
import { canonicalJson } from "./canonical-json.ts";
import type { WebhookEventType } from "./webhooks.ts";

export const VIDEO_EXTENSIONS = [".mp4"];
export const AUDIO_EXTENSIONS = [".wav", ".mp3", ".m4a"];
/** Scripts: UTF-8 text, spoken by a voice (docs/architecture.md#script-to-video). */
export const TEXT_EXTENSIONS = [".txt"];
/** Items per request; a larger submission is one batch plus appends. */
export const MAX_ITEMS_PER_REQUEST = 10_000;

/** An item by the files it uses (paths in the CLI, file names in the page). */
export interface PlannedItem {
  name: string;
  video: string;
  audio: string;
}
/** A file that cannot be part of the submission, and why. */
export interface RefusedFile {
  file: string;
  reason: string;
}
export interface Plan {
  items: PlannedItem[];
  refused: RefusedFile[];
}

const baseName = (file: string) => file.slice(file.lastIndexOf("/") + 1);
function extension(file: string): string {
  const name = baseName(file);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}
const stemOf = (file: string) => baseName(file).slice(0, baseName(file).length - extension(file).length);
export const isVideo = (file: string) => VIDEO_EXTENSIONS.includes(extension(file));
export const isAudio = (file: string) => AUDIO_EXTENSIONS.includes(extension(file));
export const isText = (file: string) => TEXT_EXTENSIONS.includes(extension(file));

/** A script item: a text, spoken by a voice, lip-synced onto `video` (without one: speech only). */
export interface ScriptItem {
  name: string;
  text: string;
  video?: string;
}

/**
 * A folder of scripts: `<name>.txt` pairs with `<name>.mp4`; with one video and no pairs,
 * that video (an avatar) speaks every script; with no video, each script is a speech item
 * (`<name>.wav`). Audio files are not part of a script submission.
 */
export function scriptPlan(files: string[]): { items: ScriptItem[]; refused: RefusedFile[] } {
  const texts = files.filter(isText).sort();
  const videos = files.filter(isVideo).sort();
  const refused: RefusedFile[] = files
    .filter((f) => !isText(f) && !isVideo(f))
    .map((file) => ({ file, reason: "not a script (.txt) or video (.mp4) file" }));
  if (videos.length === 0) return { items: texts.map((text) => ({ name: `${stemOf(text)}.wav`, text })), refused };
  const videoOf = new Map(videos.map((v) => [stemOf(v), v]));
  const avatar = videos.length === 1 && !texts.some((t) => videoOf.has(stemOf(t))) ? videos[0] : undefined;
  const items: ScriptItem[] = [];
  for (const text of texts) {
    const video = avatar ?? videoOf.get(stemOf(text));
    if (video) items.push({ name: `${stemOf(text)}.mp4`, text, video });
    else refused.push({ file: text, reason: `no video named ${stemOf(text)}.mp4` });
  }
  const used = new Set(items.map((i) => i.video));
  for (const v of videos) if (!used.has(v)) refused.push({ file: v, reason: `no script named ${stemOf(v)}.txt` });
  return { items, refused };
}

/** A folder's files: `<name>.mp4` pairs with `<name>.wav|.mp3|.m4a` (first in that order). */
export function pairFiles(files: string[]): Plan {
  const byStem = new Map<string, string[]>();
  const refused: RefusedFile[] = [];
  for (const f of [...files].sort()) {
    if (!isVideo(f) && !isAudio(f)) {
      refused.push({ file: f, reason: "not a video (.mp4) or audio (.wav, .mp3, .m4a) file" });
      continue;
    }
    byStem.set(stemOf(f), [...(byStem.get(stemOf(f)) ?? []), f]);
  }
  const items: PlannedItem[] = [];
  for (const [stem, group] of byStem) {
    const video = group.find(isVideo);
    const audio = AUDIO_EXTENSIONS.map((ext) => group.find((f) => extension(f) === ext)).find(Boolean);
    if (video && audio) {
      items.push({ name: `${stem}.mp4`, video, audio });
      for (const f of group.filter((f) => f !== video && f !== audio))
        refused.push({ file: f, reason: `${stem} is paired already (${baseName(video)} with ${baseName(audio)})` });
    } else {
      for (const f of group)
        refused.push({
          file: f,
          reason: isVideo(f) ? `no audio named ${stem}.wav, .mp3 or .m4a` : `no video named ${stem}.mp4`,
        });
    }
  }
  return { items, refused };
}

/** The avatar case: one video speaking every narration, one item per audio. */
export function avatarPlan(video: string, files: string[]): Plan {
  const audios = files.filter((f) => f !== video && isAudio(f)).sort();
  return {
    items: audios.map((audio) => ({ name: `${stemOf(audio)}.mp4`, video, audio })),
    refused: files
      .filter((f) => f !== video && !isAudio(f))
      .map((file) => ({ file, reason: "with one avatar video, every other file must be an audio file" })),
  };
}

/** CSV rows (columns name, video, audio) as items; rows missing a column are refused. */
export function csvPlan(rows: Record<string, string>[]): Plan {
  const items: PlannedItem[] = [];
  const refused: RefusedFile[] = [];
  rows.forEach((row, i) => {
    const { name, video, audio } = row;
    if (name && video && audio) items.push({ name, video, audio });
    else refused.push({ file: `row ${i + 2}`, reason: "needs the columns name, video and audio" });
  });
  return { items, refused };
}

/** Names that appear more than once (a batch's names are unique). */
export function duplicateNames(items: PlannedItem[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const i of items) (seen.has(i.name) ? twice : seen).add(i.name);
  return [...twice];
}

export interface SubmissionBody {
  model: string;
  params?: Record<string, unknown>;
  /** Input name -> blob hash: {video, audio} (lip-sync), {video, text} (script to video), {text} (speech), {video, face} (face swap). */
  items: { name: string; inputs: Record<string, string> }[];
  /** The batch's own webhook (docs/architecture.md#webhooks); part of the Idempotency-Key. */
  webhook?: { url: string; events?: WebhookEventType[] };
}

/** POST /v1/batches's body; empty params are left out so they do not change the key. */
export function submissionBody(o: {
  model: string;
  params?: Record<string, unknown>;
  items: { name: string; video: string; audio: string }[];
}): SubmissionBody {
  return {
    model: o.model,
    params: o.params && Object.keys(o.params).length > 0 ? o.params : undefined,
    items: o.items.map((i) => ({ name: i.name, inputs: { video: i.video, audio: i.audio } })),
  };
}

/**
 * The Idempotency-Key of a submission: the SHA-256 of its canonical JSON, so the same
 * manifest gives the same key and a re-run (CLI) or a reload (page) finds its batch. The
 * hash function is passed in: node:crypto in the CLI, hash-wasm in the browser.
 */
export async function idempotencyKey(
  body: SubmissionBody,
  sha256Hex: (text: string) => string | Promise<string>,
): Promise<string> {
  return sha256Hex(canonicalJson(body));
}

/** The two calls a submission makes; the CLI's ApiClient and the page's fetch wrapper both fit. */
export interface SubmitCalls<Answer extends { id: string; total: number }> {
  createBatch(body: SubmissionBody, key: string): Promise<Answer>;
  appendItems(id: string, items: SubmissionBody["items"]): Promise<Answer>;
}

/**
 * Submits one batch of the first MAX_ITEMS_PER_REQUEST items, then appends the rest. The
 * key is the whole manifest's, so a re-run finds the batch and appends only what its total
 * says is missing. Returns every answer, the batch's first.
 */
export async function submitInChunks<Answer extends { id: string; total: number }>(
  calls: SubmitCalls<Answer>,
  body: SubmissionBody,
  sha256Hex: (text: string) => string | Promise<string>,
): Promise<[Answer, ...Answer[]]> {
  const key = await idempotencyKey(body, sha256Hex);
  const first = await calls.createBatch({ ...body, items: body.items.slice(0, MAX_ITEMS_PER_REQUEST) }, key);
  const answers: [Answer, ...Answer[]] = [first];
  for (let start = first.total; start < body.items.length; start += MAX_ITEMS_PER_REQUEST)
    answers.push(await calls.appendItems(first.id, body.items.slice(start, start + MAX_ITEMS_PER_REQUEST)));
  return answers;
}
