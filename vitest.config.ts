import { defineConfig } from "vitest/config";

// unit: pure logic, no servers. integration: real redis-server, S3 server, ffmpeg, onnxruntime.
export default defineConfig({
  test: {
    // Integration files start their own servers and child processes; two files at a time
    // suit a 2-core CI machine.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: ["packages/*/src/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          // Service specs sit beside their service and talk to real servers.
          include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts", "packages/*/src/**/*.spec.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        // Opt-in (`pnpm test:slow`): minutes-long runs, e.g. > 4 GiB through the S3 server.
        test: {
          name: "slow",
          include: ["packages/*/test/**/*.slow.ts", "test/**/*.slow.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
