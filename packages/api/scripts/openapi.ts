// Writes docs/openapi.json from the route schemas: `pnpm openapi` (write) or
// `pnpm openapi --check` (CI: fail when the committed file is stale).
import fs from "node:fs";
import path from "node:path";
import { createInferenceQueue, createPackageQueue, createS3, Ledger, loadConfig } from "@mediaq/shared";
import { Redis } from "ioredis";
import { pino } from "pino";
import { KeyRing } from "../src/api-keys.ts";
import { buildApp } from "../src/app.ts";

const target = path.resolve(import.meta.dirname, "../../../docs/openapi.json");
const config = loadConfig({});
// Nothing is contacted: the clients are only handed to the routes, which never run here.
const redis = new Redis({ lazyConnect: true });
const deps = {
  config,
  s3: createS3(config),
  ledger: new Ledger(redis),
  inferenceQueue: createInferenceQueue(redis, config),
  packageQueue: createPackageQueue(redis, config),
  logger: pino({ level: "silent" }),
  keys: new KeyRing(""),
};
const app = await buildApp(deps);
await app.ready();
const text = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
redis.disconnect();

if (process.argv.includes("--check")) {
  const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
  if (current !== text) {
    console.error("docs/openapi.json is stale: run `pnpm openapi` and commit it");
    process.exit(1);
  }
  console.log("docs/openapi.json is up to date");
} else {
  fs.writeFileSync(target, text);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
process.exit(0);
