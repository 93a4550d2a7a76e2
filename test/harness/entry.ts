/**
 * Services run as their own Node process straight from main.ts (Node strips the types, see
 * docs/architecture.md "Runtime"), as `mediaq api|worker|packager` does:
 * spawn(process.execPath, [entry]). Node itself is the child, so signals reach the service.
 * Cold start on a busy 2-core machine can take a while.
 */
export const START_TIMEOUT_MS = 60_000;
