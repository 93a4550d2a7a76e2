import { describe, expect, it } from "vitest";
import { sanitizeEntryName, uniqueEntryNames } from "./entry-names.ts";
import { manifestBytes } from "./manifest.ts";
import { type PlanItem, partName, planPackage } from "./plan.ts";
import { zipSize } from "./zip-layout.ts";

const hex = (n: number) => n.toString(16).padStart(64, "0");

function items(sizes: (number | null)[]): PlanItem[] {
  return sizes.map((size, index) => ({
    index,
    name: `clip-${index}`,
    jobKey: hex(index + 1000),
    state: size === null ? "failed" : "succeeded",
    ...(size === null
      ? { error: "face not found" }
      : { output: { key: `outputs/${hex(index + 1000)}/a/output.mp4`, sha256: hex(index), size } }),
    model: hex(7),
    params: { box: null },
  }));
}

const base = { packageId: "p1", batchId: "b1", createdAt: "2025-01-01T00:00:00.000Z" };

describe("planPackage", () => {
  it("keeps batch order, never splits an item and keeps every part within partSize", () => {
    const sizes = [30_000, 50_000, null, 20_000, 70_000, 10_000, 45_000, 5_000];
    const plan = planPackage({ ...base, partSize: 100_000, items: items(sizes) });
    const order = plan.parts.flatMap((p) => p.entries.map((e) => e.index));
    expect(order).toEqual([0, 1, 3, 4, 5, 6, 7]);
    for (const part of plan.parts) {
      expect(part.size).toBeLessThanOrEqual(100_000);
      expect(part.oversize).toBe(false);
      // The planned size is the layout of manifest.json + the part's outputs.
      const layout = [
        { name: "manifest.json", size: plan.manifestBytes.length, streamed: false },
        ...part.entries.map((e) => ({ name: e.entry, size: e.size, streamed: true })),
      ];
      expect(part.size).toBe(zipSize(layout));
    }
    // Greedy: a part is closed only when the next item would not fit.
    for (let i = 0; i + 1 < plan.parts.length; i++) {
      const next = plan.parts[i + 1]?.entries[0];
      const part = plan.parts[i];
      if (!next || !part) continue;
      const withNext = zipSize([
        { name: "manifest.json", size: plan.manifestBytes.length, streamed: false },
        ...[...part.entries, next].map((e) => ({ name: e.entry, size: e.size, streamed: true })),
      ]);
      expect(withNext).toBeGreaterThan(100_000);
    }
    expect(plan.parts.map((p) => p.name)).toEqual(
      plan.parts.map((_, i) => `b1-part-00${i + 1}-of-00${plan.parts.length}.zip`),
    );
  });

  it("names each entry with its result's extension and lists its kind; results without one are mp4 videos", () => {
    const [video, speech] = items([1000, 2000]) as [PlanItem, PlanItem];
    const wav = { kind: "audio" as const, file: "output.wav", extension: ".wav", contentType: "audio/wav" };
    speech.output = { ...(speech.output as NonNullable<PlanItem["output"]>), info: wav };
    speech.name = "hello.txt";
    const plan = planPackage({ ...base, partSize: 100_000, items: [video, speech] });
    expect(plan.parts[0]?.entries.map((e) => e.entry)).toEqual(["clip-0.mp4", "hello.txt.wav"]);
    expect(plan.manifest.items[0]).toMatchObject({ entry: "clip-0.mp4", kind: "video", extension: ".mp4" });
    expect(plan.manifest.items[1]).toMatchObject({ entry: "hello.txt.wav", kind: "audio", extension: ".wav" });
  });

  it("lists every item in the manifest, failed ones with their error and no entry", () => {
    const plan = planPackage({ ...base, partSize: 100_000, items: items([1000, null, 2000]) });
    expect(plan.manifest.items).toHaveLength(3);
    expect(plan.manifest.items[1]).toMatchObject({ index: 1, status: "failed", error: "face not found" });
    expect(plan.manifest.items[1]?.entry).toBeUndefined();
    expect(plan.manifest.items[1]?.part).toBeUndefined();
    expect(plan.manifest.items[2]).toMatchObject({ entry: "clip-2.mp4", part: plan.parts[0]?.name, size: 2000 });
    expect(plan.manifest.parts).toEqual([{ name: "b1-part-001-of-001.zip", items: [0, 2] }]);
    expect(plan.manifestBytes.equals(manifestBytes(plan.manifest))).toBe(true);
  });

  it("puts an item larger than partSize alone in its own part, flagged oversize", () => {
    const plan = planPackage({ ...base, partSize: 50_000, items: items([10_000, 80_000, 10_000, 10_000]) });
    expect(plan.parts.map((p) => p.entries.map((e) => e.index))).toEqual([[0], [1], [2, 3]]);
    expect(plan.parts[1]?.oversize).toBe(true);
    expect(plan.parts[1]?.size).toBeGreaterThan(50_000);
    expect(plan.manifest.items[1]?.oversize).toBe(true);
    expect(plan.manifest.items[0]?.oversize).toBeUndefined();
    for (const p of [plan.parts[0], plan.parts[2]]) expect(p?.size).toBeLessThanOrEqual(50_000);
  });

  it("counts the manifest in every part even when it grows with the part count", () => {
    // Many tiny items: the manifest is most of each part.
    const plan = planPackage({ ...base, partSize: 40_000, items: items(Array.from({ length: 60 }, () => 100)) });
    expect(plan.parts.length).toBeGreaterThan(1);
    for (const p of plan.parts) expect(p.size).toBeLessThanOrEqual(40_000);
    expect(plan.parts.flatMap((p) => p.entries).length).toBe(60);
  });

  it("still makes one part holding the manifest when nothing succeeded", () => {
    const plan = planPackage({ ...base, partSize: 100_000, items: items([null, null]) });
    expect(plan.parts).toHaveLength(1);
    expect(plan.parts[0]?.entries).toEqual([]);
  });

  it("widens part numbers past 999 parts", () => {
    expect(partName("b", 7, 12)).toBe("b-part-007-of-012.zip");
    expect(partName("b", 7, 1200)).toBe("b-part-0007-of-1200.zip");
  });
});

describe("entry names", () => {
  it("removes path tricks, control characters and Windows-hostile characters", () => {
    expect(sanitizeEntryName("../../etc/passwd", "x")).toBe("etc_passwd.mp4");
    expect(sanitizeEntryName("a/../../b\\..\\c", "x")).toBe("a_b_c.mp4");
    expect(sanitizeEntryName("/abs/path.mp4", "x")).toBe("abs_path.mp4");
    expect(sanitizeEntryName("C:\\x", "x")).toBe("C__x.mp4");
    expect(sanitizeEntryName("a/b", "x")).toBe("a_b.mp4");
    expect(sanitizeEntryName("nul\u0000ctl\u0007\n.MP4", "x")).toBe("nulctl.MP4");
    expect(sanitizeEntryName("..", "item-3")).toBe("item-3.mp4");
    expect(sanitizeEntryName("", "item-1")).toBe("item-1.mp4");
    expect(sanitizeEntryName("con", "x")).toBe("_con.mp4");
    expect(sanitizeEntryName("video.mov", "x")).toBe("video.mov.mp4");
    expect(sanitizeEntryName("😀 smile", "x")).toBe("😀 smile.mp4");
  });

  it("normalizes to NFC so visually equal names collide", () => {
    const decomposed = "Cafe\u0301";
    expect(sanitizeEntryName(decomposed, "x")).toBe("Caf\u00e9.mp4");
    expect(uniqueEntryNames([decomposed, "Caf\u00e9"])).toEqual(["Caf\u00e9.mp4", "Caf\u00e9 (2).mp4"]);
  });

  it("makes collisions unique like a file manager, case-insensitively", () => {
    expect(uniqueEntryNames(["a", "a", "A.mp4", "a (2)", "manifest.json"], ["manifest.json"])).toEqual([
      "a.mp4",
      "a (2).mp4",
      "A (3).mp4",
      "a (2) (2).mp4",
      "manifest.json.mp4",
    ]);
  });

  it("keeps names within 255 bytes, suffix included", () => {
    const long = "é".repeat(300);
    const [a, b] = uniqueEntryNames([long, long]);
    expect(Buffer.byteLength(a as string)).toBeLessThanOrEqual(255);
    expect(Buffer.byteLength(b as string)).toBeLessThanOrEqual(255);
    expect(b?.endsWith(" (2).mp4")).toBe(true);
  });
});
