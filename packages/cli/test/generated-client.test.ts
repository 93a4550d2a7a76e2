import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLIENT_DIR, DOCUMENT, generateClient } from "../scripts/client.ts";

/** Every file under dir, relative path -> text. */
function tree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, file), fs.readFileSync(file, "utf8"));
  }
  return files;
}

/** The files that differ between two trees (added, removed or changed). */
function differing(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f)).sort();
}

describe("generated API client", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-client-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("is what docs/openapi.json generates now (else run `pnpm client` and commit it)", async () => {
    const fresh = path.join(tmp, "fresh");
    await generateClient(fresh);
    const committed = tree(CLIENT_DIR);
    expect(committed.size).toBeGreaterThan(5);
    expect(differing(committed, tree(fresh))).toEqual([]);
  });

  it("differs once the document changes: an operation renamed shows in the SDK", async () => {
    const doc = JSON.parse(fs.readFileSync(DOCUMENT, "utf8"));
    doc.paths["/v1/batches/{id}"].get.operationId = "getBatchRenamed";
    const changed = path.join(tmp, "openapi.json");
    fs.writeFileSync(changed, JSON.stringify(doc));
    const out = path.join(tmp, "changed");
    await generateClient(out, changed);
    expect(differing(tree(CLIENT_DIR), tree(out))).toEqual(expect.arrayContaining(["sdk.gen.ts", "types.gen.ts"]));
    expect(fs.readFileSync(path.join(out, "sdk.gen.ts"), "utf8")).toMatch(/export const getBatchRenamed\b/);
  });
});
