#!/usr/bin/env node
// The `mediaq` command. Runs the TypeScript sources through tsx, so no build step is needed.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { register } = await import("tsx/esm/api");
register();
await import("../src/main.ts");
