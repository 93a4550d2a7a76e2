export * from "./process.ts";
export * from "./redis.ts";
export * from "./s3.ts";
