import { type Config, createLogger } from "@mediaq/shared";
import { runInferenceWorker, type StartWorkerOptions, type WorkerHandle } from "./worker.ts";

export type { WorkerHandle } from "./worker.ts";
export { jobsRoot, removeOwnScratch } from "./scratch.ts";
export { melSpectrogram, MEL } from "./audio/mel.ts";

/** Starts an inference worker in this process (main.ts does this; tests do too). */
export function startWorker(config: Config, opts: Partial<StartWorkerOptions> = {}): Promise<WorkerHandle> {
  return runInferenceWorker(config, { ...opts, log: opts.log ?? createLogger("worker", config) });
}
