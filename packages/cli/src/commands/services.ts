import type { Command } from "commander";
import { type ServiceName, spawnService } from "../dev-stack.ts";
import { parseGpus, superviseWorkers } from "../supervisor.ts";
import { untilSignal } from "./dev.ts";

/** `mediaq api|packager|notifier|worker`: services in the foreground, configured by the environment. */
export function registerServices(program: Command): void {
  const single: [ServiceName, string][] = [
    ["api", "run the HTTP API"],
    ["packager", "run the package builder"],
    ["notifier", "run the webhook notifier (signed deliveries)"],
  ];
  for (const [name, description] of single) {
    program
      .command(name)
      .description(`${description}; configured by environment variables (see README)`)
      .action(async () => {
        const service = spawnService(name, {}, "inherit");
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => service.child.kill(sig));
        process.exitCode = await new Promise<number>((resolve) => service.child.once("exit", (c) => resolve(c ?? 1)));
      });
  }

  program
    .command("worker")
    .description("run inference workers: one process per GPU card, restarted when one crashes")
    .option("--gpus <cards>", 'cards to use: "all" (from nvidia-smi) or a list like 0,1', "all")
    .action(async (o: { gpus: string }) => {
      const cards = parseGpus(o.gpus);
      console.error(`mediaq worker: ${cards.length} worker process(es), cards ${cards.join(",")}`);
      const supervisor = superviseWorkers({ cards });
      await untilSignal();
      console.error("mediaq worker: draining (the running jobs finish or are handed back)...");
      await supervisor.stop();
    });
}
