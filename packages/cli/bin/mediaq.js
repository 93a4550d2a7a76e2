#!/usr/bin/env node
// The `mediaq` command. Node runs the TypeScript sources itself (type stripping), so no build
// step is needed; see docs/architecture.md "Runtime".
await import("../src/main.ts");
