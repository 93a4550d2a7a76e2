/**
 * Arguments for running a service entry (a main.ts) as its own Node process through
 * tsx, as `mediaq api|worker|packager` does: spawn(process.execPath, tsxArgs(entry)).
 * Node itself is the child, so signals sent to it reach the service.
 */
export function tsxArgs(entry: string): string[] {
  return ["--import", import.meta.resolve("tsx"), entry];
}

/** Cold start of a service under tsx on a busy 2-core machine can take a while. */
export const START_TIMEOUT_MS = 60_000;
