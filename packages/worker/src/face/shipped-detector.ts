import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";

const verified = new Map<string, Promise<string>>();

/**
 * The file of a model that ships with mediaq (the default face detector, from its npm
 * package), checked against its SHA-256 once per process; undefined for any other hash.
 */
export function shippedModelFile(sha256: string): Promise<string | undefined> {
  if (sha256 !== DEFAULT_FACE_DETECTOR.sha256) return Promise.resolve(undefined);
  let file = verified.get(sha256);
  if (!file) {
    file = verifyShipped();
    verified.set(sha256, file);
    file.catch(() => verified.delete(sha256));
  }
  return file;
}

async function verifyShipped(): Promise<string> {
  const { npmPackage, file, sha256 } = DEFAULT_FACE_DETECTOR;
  const root = path.dirname(createRequire(import.meta.url).resolve(`${npmPackage}/package.json`));
  const full = path.join(root, file);
  const hash = createHash("sha256");
  await pipeline(fs.createReadStream(full), hash);
  const actual = hash.digest("hex");
  if (actual !== sha256)
    throw new Error(
      `the shipped face detector ${full} has SHA-256 ${actual}, expected ${sha256}; reinstall ${npmPackage} (pnpm install)`,
    );
  return full;
}
