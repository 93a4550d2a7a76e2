import fs from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";

export interface SubmissionItem {
  name: string;
  video: string;
  audio: string;
}

const AUDIO_EXTENSIONS = [".wav", ".mp3", ".m4a"];

/**
 * What to submit: a folder pairs `<name>.mp4` with `<name>.wav|.mp3|.m4a`; a CSV has
 * columns name,video,audio (paths relative to the CSV). Throws, listing every problem,
 * when anything is unpaired or missing, before anything is uploaded.
 */
export function readSubmission(source: string): SubmissionItem[] {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${source}: no such file or folder`);
  const items = stat.isDirectory() ? pairFolder(source) : readCsv(source);
  const problems = items.flatMap((i) =>
    [i.video, i.audio].filter((f) => !fs.existsSync(f)).map((f) => `${i.name}: ${f} does not exist`),
  );
  const seen = new Set<string>();
  for (const i of items) {
    if (seen.has(i.name)) problems.push(`${i.name}: the name appears twice`);
    seen.add(i.name);
  }
  if (items.length === 0) problems.push(`${source}: nothing to submit (no <name>.mp4 with a matching audio file)`);
  if (problems.length > 0) throw new Error(`cannot submit:\n  ${problems.join("\n  ")}`);
  return items;
}

function pairFolder(dir: string): SubmissionItem[] {
  const files = fs.readdirSync(dir).sort();
  const byStem = new Map<string, string[]>();
  for (const f of files) {
    const ext = path.extname(f).toLowerCase();
    if (ext !== ".mp4" && !AUDIO_EXTENSIONS.includes(ext)) continue;
    const stem = f.slice(0, -ext.length);
    byStem.set(stem, [...(byStem.get(stem) ?? []), f]);
  }
  const items: SubmissionItem[] = [];
  const unpaired: string[] = [];
  for (const [stem, group] of byStem) {
    const video = group.find((f) => path.extname(f).toLowerCase() === ".mp4");
    const audio = AUDIO_EXTENSIONS.map((ext) => group.find((f) => path.extname(f).toLowerCase() === ext)).find(Boolean);
    if (video && audio) items.push({ name: `${stem}.mp4`, video: path.join(dir, video), audio: path.join(dir, audio) });
    else unpaired.push(...group);
  }
  if (unpaired.length > 0) {
    throw new Error(
      `cannot submit: no partner for ${unpaired.join(", ")} (expected <name>.mp4 with <name>.wav, .mp3 or .m4a)`,
    );
  }
  return items;
}

function readCsv(file: string): SubmissionItem[] {
  const rows = parse(fs.readFileSync(file), { columns: true, skip_empty_lines: true, trim: true }) as Record<
    string,
    string
  >[];
  const base = path.dirname(file);
  return rows.map((row, i) => {
    const { name, video, audio } = row;
    if (!name || !video || !audio) throw new Error(`${file}, row ${i + 2}: needs the columns name, video and audio`);
    return { name, video: path.resolve(base, video), audio: path.resolve(base, audio) };
  });
}
