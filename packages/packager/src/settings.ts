import { ConfigError } from "@mediaq/shared";
import { z } from "zod";

/** Settings only the packager reads (the shared Config holds the rest). */
export const packagerSettingsSchema = z.object({
  /** How often expired packages' objects are deleted. */
  PACKAGE_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Part jobs (of any package) this process builds at the same time. */
  PACKAGE_PART_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * Lock of a running job: renewed every half of it while the process lives. A killed
   * packager's part is built again by another one about this long after it died.
   */
  PACKAGE_LOCK_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  /** Package jobs (planning, final manifest) this process runs at the same time. */
  PACKAGE_JOB_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
});

export type PackagerSettings = z.infer<typeof packagerSettingsSchema>;

export function loadPackagerSettings(env: NodeJS.ProcessEnv = process.env): PackagerSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = packagerSettingsSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => {
    const name = String(i.path[0] ?? "?");
    return `  ${name}=${JSON.stringify(env[name] ?? "")}: ${i.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
}
