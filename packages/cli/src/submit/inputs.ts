import fs from "node:fs";
import path from "node:path";
import {
  csvPlan,
  duplicateNames,
  isAudio,
  isText,
  type Plan,
  type PlannedItem,
  pairFiles,
  type ScriptItem,
  scriptPlan,
} from "@mediaq/shared";
import { parse } from "csv-parse/sync";

export type SubmissionItem = PlannedItem;

/**
 * What to submit: a folder pairs `<name>.mp4` with `<name>.wav|.mp3|.m4a`; a CSV has
 * columns name,video,audio (paths relative to the CSV). The rules are the web page's too
 * (shared submission-plan.ts). Throws, listing every problem, when anything is unpaired or
 * missing, before anything is uploaded.
 */
export function readSubmission(source: string): SubmissionItem[] {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${source}: no such file or folder`);
  const plan = stat.isDirectory() ? pairFolder(source) : readCsv(source);
  const problems = plan.refused.map((r) => `${r.file}: ${r.reason}`);
  problems.push(
    ...plan.items.flatMap((i) =>
      [i.video, i.audio].filter((f) => !fs.existsSync(f)).map((f) => `${i.name}: ${f} does not exist`),
    ),
    ...duplicateNames(plan.items).map((name) => `${name}: the name appears twice`),
  );
  if (plan.items.length === 0 && plan.refused.length === 0)
    problems.push(`${source}: nothing to submit (no <name>.mp4 with a matching audio file)`);
  if (problems.length > 0) throw new Error(`cannot submit:\n  ${problems.join("\n  ")}`);
  return plan.items;
}

/** Video files a face swap takes from a folder (`mediaq submit <folder> --face face.jpg`). */
const VIDEO_EXTENSIONS = new Set([".mp4", ".mov", ".m4v", ".mkv", ".webm"]);

/**
 * Face swap: every video in the folder gets the face of `face` (a PNG or JPEG), one item per
 * video named after it. Throws when the face is not a PNG/JPEG file or the folder has no video.
 */
export function readFaceSwap(source: string, face: string): { name: string; video: string }[] {
  if (!fs.statSync(source, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${source}: --face takes a folder of videos`);
  if (!fs.existsSync(face)) throw new Error(`${face}: no such file`);
  if (!/\.(png|jpe?g)$/i.test(face)) throw new Error(`${face}: the source face must be a .png, .jpg or .jpeg image`);
  const videos = fs
    .readdirSync(source)
    .filter((f) => VIDEO_EXTENSIONS.has(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => ({ name: f, video: path.join(source, f) }));
  if (videos.length === 0)
    throw new Error(`${source}: no videos (${[...VIDEO_EXTENSIONS].join(", ")}) to swap a face on`);
  return videos;
}

/** Media files only: other files in a folder (notes, thumbnails) are not the CLI's concern. */
function pairFolder(dir: string): Plan {
  const plan = pairFiles(fs.readdirSync(dir).map((f) => path.join(dir, f)));
  return { items: plan.items, refused: plan.refused.filter((r) => !r.reason.startsWith("not a video")) };
}

function readCsv(file: string): Plan {
  const rows = parse(fs.readFileSync(file), { columns: true, skip_empty_lines: true, trim: true }) as Record<
    string,
    string
  >[];
  const base = path.dirname(file);
  const plan = csvPlan(rows);
  return {
    items: plan.items.map((i) => ({ ...i, video: path.resolve(base, i.video), audio: path.resolve(base, i.audio) })),
    refused: plan.refused.map((r) => ({ ...r, file: `${file}, ${r.file}` })),
  };
}

/** Is this a folder of scripts (`.txt` files and no audio)? Then it is submitted with readScripts. */
export function isScriptFolder(source: string): boolean {
  if (!fs.statSync(source, { throwIfNoEntry: false })?.isDirectory()) return false;
  const files = fs.readdirSync(source);
  return files.some(isText) && !files.some(isAudio);
}

/**
 * A folder of scripts (docs/architecture.md#script-to-video): `<name>.txt` with `<name>.mp4`,
 * many `.txt` with one avatar `.mp4`, or `.txt` alone (speech items). Throws, listing every
 * problem, before anything is uploaded.
 */
export function readScripts(dir: string): ScriptItem[] {
  const plan = scriptPlan(fs.readdirSync(dir).map((f) => path.join(dir, f)));
  const refused = plan.refused.filter((r) => !r.reason.startsWith("not a script"));
  const problems = refused.map((r) => `${r.file}: ${r.reason}`);
  const names = new Set<string>();
  for (const i of plan.items)
    if (names.has(i.name)) problems.push(`${i.name}: the name appears twice`);
    else names.add(i.name);
  if (problems.length > 0) throw new Error(`cannot submit:\n  ${problems.join("\n  ")}`);
  return plan.items;
}
