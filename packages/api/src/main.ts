import { ConfigError, loadConfig } from "@mediaq/shared";
import { startApi } from "./index.ts";

// Entry point: `node packages/api/src/main.ts` (mediaq api / the container run this).
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const api = await startApi(config);
// Key rotation without a restart: `kill -HUP <pid>` re-reads API_KEYS_FILE.
process.on("SIGHUP", () => api.reloadKeys());
let closing = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    api.deps.logger.info({ signal }, "shutting down");
    api.close().then(
      () => process.exit(0),
      (err) => {
        api.deps.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
