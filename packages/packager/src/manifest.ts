import type { ItemViewState, OutputKind } from "@mediaq/shared";

/** manifest.json, schema version 1: inside every part (first entry) and as its own object. */
export const MANIFEST_NAME = "manifest.json";
export const SUMS_NAME = "SHA256SUMS";

export interface ManifestItem {
  /** Position in the batch (0-based, batch order). */
  index: number;
  /** The name the item was submitted with. */
  name: string;
  /** The file name inside the part; absent for items without an output. */
  entry?: string;
  /** What the output is (video, audio, image) and its file extension (`.mp4`); with `entry`. */
  kind?: OutputKind;
  extension?: string;
  part?: string;
  size?: number;
  sha256?: string;
  jobKey: string;
  model: string;
  params: Record<string, unknown>;
  timings?: Record<string, number>;
  status: ItemViewState;
  error?: string;
  /** Larger than the part size: it sits alone in its own, larger, part. */
  oversize?: true;
  /** Has an output now, but did not when the package was asked for, so it is not in it. */
  notInPackage?: true;
}

export interface ManifestPart {
  name: string;
  /** Only in the separate manifest.json object: a part cannot hold its own size or hash. */
  size?: number;
  sha256?: string;
  items: number[];
}

export interface Manifest {
  schemaVersion: 1;
  packageId: string;
  batchId: string;
  createdAt: string;
  partSize: number;
  parts: ManifestPart[];
  items: ManifestItem[];
}

export function manifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

/** The manifest object stored next to the parts, with each part's final size and hash. */
export function withPartDigests(manifest: Manifest, digests: Map<string, { size: number; sha256: string }>): Manifest {
  return {
    ...manifest,
    parts: manifest.parts.map((p) => ({ name: p.name, ...digests.get(p.name), items: p.items })),
  };
}

/** `sha256sum -c` input: "<hex>  <file>" per line. */
export function sha256Sums(parts: { name: string; sha256: string }[]): string {
  return parts.map((p) => `${p.sha256}  ${p.name}\n`).join("");
}
