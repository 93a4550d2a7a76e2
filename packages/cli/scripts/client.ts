// Writes the typed API client (packages/cli/src/generated-client/) from docs/openapi.json:
// `pnpm client`. packages/cli/test/generated-client.test.ts fails when it is out of date.
import fs from "node:fs";
import path from "node:path";
import { createClient } from "@hey-api/openapi-ts";

const root = path.resolve(import.meta.dirname, "../../..");
export const DOCUMENT = path.join(root, "docs/openapi.json");
export const CLIENT_DIR = path.join(root, "packages/cli/src/generated-client");

/** Generates the client for `document` into `dir` (emptied first), offline. */
export async function generateClient(dir: string, document: string = DOCUMENT): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  await createClient({
    input: document,
    // `.ts` imports: Node runs the sources as they are (docs/architecture.md#api-description).
    output: { path: dir, importFileExtension: ".ts", tsConfigPath: path.join(root, "tsconfig.json") },
    plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
    logs: { level: "silent" },
  });
}

if (import.meta.main) {
  await generateClient(CLIENT_DIR);
  console.log(`wrote ${path.relative(process.cwd(), CLIENT_DIR)}`);
}
