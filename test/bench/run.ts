import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// Runs every *.bench.ts in this folder, one after another (benches measure; running them
// side by side would skew each other). `pnpm bench [filter]` runs the files whose name matches.
const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = fs
  .readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts") && (!filter || f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(filter ? `no bench file matches "${filter}"` : "no *.bench.ts files");
  process.exit(1);
}
for (const file of files) {
  console.log(`\n== ${file}`);
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { default?: () => Promise<void> };
  if (typeof mod.default === "function") await mod.default();
}
