export * from "./api-client.ts";
export * from "./dev-stack.ts";
export * from "./wait.ts";
