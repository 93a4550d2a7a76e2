import type { Command } from "commander";
import { startDevStack } from "../dev-stack.ts";

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "run the whole stack on this machine: Redis, an S3 server, the API, one worker (restarted, its job handed back, when it dies), the packager and the notifier",
    )
    .option("--port <port>", "API port", "8080")
    .option("--data-dir <dir>", "where Redis, S3 and scratch data live", ".mediaq")
    .action(async (o: { port: string; dataDir: string }) => {
      const stack = await startDevStack({
        dataDir: o.dataDir,
        port: Number(o.port),
        apiKeys: process.env.API_KEYS,
        logs: "inherit",
        env: { LOG_PRETTY: process.env.LOG_PRETTY ?? "true" },
      });
      const env = Object.entries(stack.connection).map(([k, v]) => `  ${k}=${v}`);
      console.log(`
mediaq dev is running (Ctrl-C stops it and every process it started)
  API        ${stack.apiUrl}   (docs: ${stack.apiUrl}/docs)
  API key    ${stack.apiKey}   (tenant "${stack.tenant}")
  Redis      ${stack.redis.url}
  S3         ${stack.s3.endpoint}   bucket mediaq
  model      demo (wav2lip), registered
The environment other commands need (written to ${stack.envFile}):
${env.join("\n")}
Try:  pnpm exec mediaq --env ${stack.envFile} snapshot create
      pnpm exec mediaq --env ${stack.envFile} worker --gpus 0    # a second worker on this stack`);
      await untilSignal();
      console.log("stopping...");
      await stack.stop();
    });
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve(sig));
  });
}
