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
  /** Fetches of a part that fails (its SHA-256, or the transfer) after the first; default 3. */
  retries?: number;
  /** A fresh link for a part, for the fetches after the first (links expire); default: the package's. */
  freshUrl?: (name: string) => Promise<string>;
  /** Told why a part is fetched again. */
  onRetry?: (name: string, attempt: number, reason: string) => void;
  /** Wait before fetching again: attempt × this (default 500 ms). */
  retryDelayMs?: number;
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
 * checked against SHA256SUMS. A part that fails is fetched again, up to `retries` times:
 * a transfer cut short resumes where it stopped (Range), a part whose bytes do not hash to
 * its SHA-256 is fetched whole again. Only a part that never verifies fails the download.
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
      limit(() => downloadPart(part, path.join(dir, path.basename(part.name)), sums.get(part.name), o)),
    ),
  );
  if (o.extract) for (const file of files.sort()) await extract(file, { dir: path.resolve(dir) });
  return files.sort();
}

/** One part, fetched until it hashes to its SHA-256 or the retries are spent. */
async function downloadPart(
  part: { name: string; size: number; url: string },
  file: string,
  sha256: string | undefined,
  o: DownloadOptions,
): Promise<string> {
  const retries = o.retries ?? 3;
  let url = part.url;
  let counted = 0;
  // Bytes fetched again are not progress: the count follows the file's size.
  const onBytes = (n: number) => {
    counted += n;
    o.onBytes?.(n);
  };
  for (let attempt = 0; ; attempt++) {
    let reason: string;
    try {
      await downloadResumable(url, file, part.size, onBytes, counted);
      const got = (await hashFile(file)).sha256;
      if (got === sha256) return file;
      reason = `SHA-256 ${got} does not match SHA256SUMS`;
      fs.rmSync(file, { force: true });
    } catch (err) {
      reason = (err as Error).message;
    }
    if (attempt >= retries) {
      fs.rmSync(file, { force: true });
      throw new Error(`${part.name}: ${reason}; gave up after ${attempt + 1} fetches (deleted)`);
    }
    o.onRetry?.(part.name, attempt + 1, reason);
    await new Promise((r) => setTimeout(r, (attempt + 1) * (o.retryDelayMs ?? 500)));
    if (o.freshUrl) url = await o.freshUrl(part.name);
  }
}

/** Fetches the rest of a file: from its current size with a Range request, or whole. */
async function downloadResumable(
  url: string,
  file: string,
  size: number,
  onBytes: (n: number) => void,
  /** Bytes of this file reported so far. */
  counted: number,
) {
  let have = fs.existsSync(file) ? fs.statSync(file).size : 0;
  if (have > size) {
    fs.rmSync(file);
    have = 0;
  }
  // Progress is what is on disk: a file from an earlier run, or less than a cut transfer reported.
  if (have !== counted) onBytes(have - counted);
  if (have === size) return;
  const res = await fetch(url, { headers: have > 0 && have < size ? { range: `bytes=${have}-` } : {} });
  if (!res.ok || !res.body) throw new Error(`download of ${path.basename(file)} failed: HTTP ${res.status}`);
  const append = res.status === 206;
  if (!append && have > 0) onBytes(-have);
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
