import { Command } from "commander";
import { ApiError } from "./api-client.ts";
import { registerBatchCommands } from "./commands/batches.ts";
import { registerDemo } from "./commands/demo.ts";
import { registerDev } from "./commands/dev.ts";
import { registerDownload } from "./commands/download.ts";
import { registerKeyCommand } from "./commands/key.ts";
import { registerServices } from "./commands/services.ts";
import { registerSnapshotCommands } from "./commands/snapshot.ts";
import { registerSubmit } from "./commands/submit.ts";
import { loadEnvFile } from "./env-file.ts";

const program = new Command("mediaq")
  .description("queue-based batch pipeline for AI media generation")
  .option("--api-url <url>", "mediaq API address (default: $MEDIAQ_API_URL, else http://127.0.0.1:8080)")
  .option("--api-key <key>", "API key (default: $MEDIAQ_API_KEY)")
  .option("--env <file>", "load environment variables from a file first, e.g. the <data-dir>/env mediaq dev writes")
  .showHelpAfterError()
  // Before any command runs: its settings (and the services it starts) read the environment.
  .hook("preAction", (root) => {
    const file = root.opts<{ env?: string }>().env;
    if (file) loadEnvFile(file);
  });

registerDev(program);
registerDemo(program);
registerServices(program);
registerSubmit(program);
registerBatchCommands(program);
registerDownload(program);
registerSnapshotCommands(program);
registerKeyCommand(program);

try {
  await program.parseAsync();
} catch (err) {
  // Exit codes: 1 = the request failed or input was bad, 2 = usage (commander).
  console.error(`mediaq: ${err instanceof ApiError || err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
