import { assertNoEviction, createLogger, createRedis, loadConfig } from "@mediaq/shared";
import { startPackager } from "./index.ts";
import { loadPackagerSettings } from "./settings.ts";

// Entry point of the packager service: build queued packages, sweep expired ones.
const config = loadConfig();
const settings = loadPackagerSettings();
const logger = createLogger("packager", config);

const probe = createRedis(config);
const warning = await assertNoEviction(probe);
if (warning) logger.warn(warning);
await probe.quit();

const packager = startPackager(config, { settings, logger });
logger.info({ queue: "package" }, "packager started");

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "draining: finishing running packages, taking no new ones");
  await packager.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
