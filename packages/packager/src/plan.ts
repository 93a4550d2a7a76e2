import { DEFAULT_OUTPUT, type ItemViewState, type OutputInfo } from "@mediaq/shared";
import { OUTPUT_EXTENSION, uniqueEntryNames } from "./entry-names.ts";
import { MANIFEST_NAME, type Manifest, type ManifestItem, manifestBytes } from "./manifest.ts";
import { type LayoutEntry, ZipSizer, zipSize } from "./zip-layout.ts";

/** One batch item as the planner sees it; `output` is set for succeeded items only. */
export interface PlanItem {
  index: number;
  name: string;
  jobKey: string;
  state: ItemViewState;
  error?: string;
  model: string;
  params: Record<string, unknown>;
  output?: {
    key: string;
    sha256: string;
    size: number;
    timings?: Record<string, number>;
    /** From the result; absent: DEFAULT_OUTPUT (results recorded before outputs had kinds). */
    info?: OutputInfo;
  };
}

export interface PlannedEntry {
  index: number;
  entry: string;
  jobKey: string;
  /** The output object whose bytes sha256 describes (the recorded result's key). */
  key: string;
  size: number;
  sha256: string;
  info: OutputInfo;
}

export interface PlannedPart {
  name: string;
  entries: PlannedEntry[];
  /** Exact size of the ZIP archiver will write for this part. */
  size: number;
  oversize: boolean;
}

export interface PackagePlan {
  parts: PlannedPart[];
  /** The manifest written into every part. */
  manifest: Manifest;
  manifestBytes: Buffer;
}

export interface PlanOptions {
  packageId: string;
  batchId: string;
  createdAt: string;
  partSize: number;
  items: PlanItem[];
  /**
   * Indexes of the items to pack (the ones the package id was computed from). Absent:
   * every item with an output. An index without an output is an error.
   */
  include?: number[];
}

export function partName(batchId: string, n: number, count: number): string {
  const width = Math.max(3, String(count).length);
  const pad = (i: number) => String(i).padStart(width, "0");
  return `${batchId}-part-${pad(n)}-of-${pad(count)}.zip`;
}

const manifestEntry = (size: number): LayoutEntry => ({ name: MANIFEST_NAME, size, streamed: false });
const outputEntry = (e: PlannedEntry): LayoutEntry => ({ name: e.entry, size: e.size, streamed: true });

/**
 * Packs succeeded items, in batch order and never split, into parts of at most partSize
 * bytes each (manifest.json included); an item that cannot fit even alone gets a part of
 * its own. The manifest lists the parts, and its size counts in every part, so packing
 * and manifest are iterated until the manifest no longer grows: a bigger manifest can
 * only add parts, so this settles within a few rounds.
 */
export function planPackage(o: PlanOptions): PackagePlan {
  const include = o.include ? new Set(o.include) : undefined;
  if (include) {
    const byIndex = new Map(o.items.map((i) => [i.index, i]));
    for (const index of include) {
      const item = byIndex.get(index);
      if (!item?.output)
        throw new Error(
          item
            ? `item ${index} ("${item.name}") was packaged but has no result any more (state ${item.state}); ask for a new package`
            : `item ${index} was packaged but the batch has no such item`,
        );
    }
  }
  const succeeded = o.items.filter((i) => i.output && (!include || include.has(i.index)));
  const names = uniqueEntryNames(
    succeeded.map((i) => ({ name: i.name, extension: i.output?.info?.extension ?? OUTPUT_EXTENSION })),
    [MANIFEST_NAME],
  );
  const entries: PlannedEntry[] = succeeded.map((item, i) => ({
    index: item.index,
    entry: names[i] as string,
    jobKey: item.jobKey,
    key: item.output?.key ?? "",
    size: item.output?.size ?? 0,
    sha256: item.output?.sha256 ?? "",
    info: item.output?.info ?? DEFAULT_OUTPUT,
  }));

  let budget = 0;
  for (let round = 0; round < 100; round++) {
    const groups = pack(entries, budget, o.partSize);
    const manifest = buildManifest(o, groups);
    const bytes = manifestBytes(manifest);
    if (bytes.length <= budget) {
      const parts = groups.map((g, i) => ({
        name: manifest.parts[i]?.name as string,
        entries: g.entries,
        oversize: g.oversize,
        size: zipSize([manifestEntry(bytes.length), ...g.entries.map(outputEntry)]),
      }));
      return { parts, manifest, manifestBytes: bytes };
    }
    budget = bytes.length;
  }
  throw new Error("package plan did not settle (manifest keeps growing); this is a bug");
}

interface Group {
  entries: PlannedEntry[];
  oversize: boolean;
}

function pack(entries: PlannedEntry[], manifestSize: number, partSize: number): Group[] {
  const groups: Group[] = [];
  let current: { group: Group; sizer: ZipSizer } | undefined;
  const open = () => {
    const sizer = new ZipSizer();
    sizer.add(manifestEntry(manifestSize));
    return sizer;
  };
  for (const e of entries) {
    if (open().total(outputEntry(e)) > partSize) {
      groups.push({ entries: [e], oversize: true });
      current = undefined;
      continue;
    }
    if (!current || current.sizer.total(outputEntry(e)) > partSize) {
      current = { group: { entries: [], oversize: false }, sizer: open() };
      groups.push(current.group);
    }
    current.group.entries.push(e);
    current.sizer.add(outputEntry(e));
  }
  // A batch without outputs still gets one part, so its manifest (with the failures) ships.
  if (groups.length === 0) groups.push({ entries: [], oversize: false });
  return groups;
}

function buildManifest(o: PlanOptions, groups: Group[]): Manifest {
  const include = o.include ? new Set(o.include) : undefined;
  const placed = new Map<number, { entry: PlannedEntry; part: string; oversize: boolean }>();
  const parts = groups.map((g, i) => {
    const name = partName(o.batchId, i + 1, groups.length);
    for (const entry of g.entries) placed.set(entry.index, { entry, part: name, oversize: g.oversize });
    return { name, items: g.entries.map((e) => e.index) };
  });
  const items = o.items.map((item): ManifestItem => {
    const at = placed.get(item.index);
    return {
      index: item.index,
      name: item.name,
      ...(at
        ? {
            entry: at.entry.entry,
            kind: at.entry.info.kind,
            extension: at.entry.info.extension,
            part: at.part,
            size: at.entry.size,
            sha256: at.entry.sha256,
          }
        : {}),
      jobKey: item.jobKey,
      model: item.model,
      params: item.params,
      ...(item.output?.timings ? { timings: item.output.timings } : {}),
      status: item.state,
      ...(item.error && !at ? { error: item.error } : {}),
      ...(at?.oversize ? { oversize: true as const } : {}),
      ...(include && item.output && !include.has(item.index) ? { notInPackage: true as const } : {}),
    };
  });
  return {
    schemaVersion: 1,
    packageId: o.packageId,
    batchId: o.batchId,
    createdAt: o.createdAt,
    partSize: o.partSize,
    parts,
    items,
  };
}
