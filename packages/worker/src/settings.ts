import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

/**
 * Worker-only settings (the shared schema in @mediaq/shared holds the ones every service
 * reads, including CACHE_ROOT, CACHE_TTL_SECONDS, CACHE_SWEEP_INTERVAL_SECONDS,
 * AUTO_CLEAR_CACHE, MIN_FREE_DISK_BYTES, ORT_EXECUTION_PROVIDER and GPU_DEVICE_ID; main.ts reads
 * the shutdown/lock ones).
 */
export const workerSettingsSchema = z.object({
  /**
   * Let the next job fetch, probe and decode its audio while the current one holds the card
   * (two jobs active per process, the inference section still one at a time).
   */
  WORKER_PREFETCH: bool.default(false),
  /** How often the free-disk guard looks at CACHE_ROOT's filesystem. */
  WORKER_DISK_CHECK_SECONDS: z.coerce.number().positive().default(5),
});

export type WorkerSettings = z.infer<typeof workerSettingsSchema>;

/** Reads the worker settings; a bad value throws naming the variable. */
export function loadWorkerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = workerSettingsSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(
    (i) => `  ${String(i.path[0])}=${JSON.stringify(env[String(i.path[0])] ?? "")}: ${i.message}`,
  );
  throw new Error(`Invalid worker configuration:\n${lines.join("\n")}`);
}
