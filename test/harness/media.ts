// Fixtures come from the same generator the demo uses.
export * from "@mediaq/cli/sample-media";
