import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import extract from "extract-zip";
import pLimit from "p-limit";
import type { PackageView } from "./api-client.ts";
import { hashFile } from "./submit/upload.ts";

export interface DownloadOptions {
  concurrency?: number;
  extract?: boolean;
  onBytes?: (n: number) => void;
}

/** Parses `sha256sum` output: "<hex>  <name>" per line. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) sums.set(m[2] as string, m[1] as string);
  }
  return sums;
}

/**
 * Downloads every part of a package into dir, several at a time. A part already there
 * and intact is kept; a partial one resumes with an HTTP Range request. Every part is
 * checked against SHA256SUMS; a bad one is deleted and reported.
 */
export async function downloadPackage(pkg: PackageView, dir: string, o: DownloadOptions = {}): Promise<string[]> {
  if (pkg.state !== "ready") throw new Error(`package ${pkg.id} is ${pkg.state}, not ready`);
  fs.mkdirSync(dir, { recursive: true });
  const sumsText = await fetchText(pkg.sha256sums?.url);
  const sums = parseSha256Sums(sumsText);
  fs.writeFileSync(path.join(dir, "SHA256SUMS"), sumsText);
  fs.writeFileSync(path.join(dir, "manifest.json"), await fetchText(pkg.manifest?.url));

  const limit = pLimit(o.concurrency ?? 3);
  const files = await Promise.all(
    pkg.parts.map((part) =>
      limit(async () => {
        const file = path.join(dir, path.basename(part.name));
        await downloadResumable(part.url, file, part.size, o.onBytes);
        const { sha256 } = await hashFile(file);
        if (sha256 !== sums.get(part.name)) {
          fs.rmSync(file, { force: true });
          throw new Error(`${part.name}: SHA-256 ${sha256} does not match SHA256SUMS; deleted, run the download again`);
        }
        return file;
      }),
    ),
  );
  if (o.extract) for (const file of files.sort()) await extract(file, { dir: path.resolve(dir) });
  return files.sort();
}

async function downloadResumable(url: string, file: string, size: number, onBytes: (n: number) => void = () => {}) {
  const have = fs.existsSync(file) ? fs.statSync(file).size : 0;
  if (have === size) return onBytes(size);
  const res = await fetch(url, { headers: have > 0 && have < size ? { range: `bytes=${have}-` } : {} });
  if (!res.ok || !res.body) throw new Error(`download of ${path.basename(file)} failed: HTTP ${res.status}`);
  const append = res.status === 206;
  if (append) onBytes(have);
  const body = Readable.fromWeb(res.body as WebReadableStream);
  body.on("data", (c: Buffer) => onBytes(c.length));
  await pipeline(body, fs.createWriteStream(file, { flags: append ? "a" : "w" }));
}

async function fetchText(url: string | undefined): Promise<string> {
  if (!url) throw new Error("the package has no link for it");
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${new URL(url).pathname} failed: HTTP ${res.status}`);
  return res.text();
}
