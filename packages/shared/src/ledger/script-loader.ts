import fs from "node:fs";
import type { Redis, Result } from "ioredis";

/**
 * Loads the ledger's Lua commands (commands/<name>-<key count>.lua, named as BullMQ names
 * its commands) into an ioredis client with defineCommand. A line
 * `--- @include "includes/x"` is replaced by includes/x.lua, once per script.
 */

const COMMANDS_DIR = new URL("./commands/", import.meta.url);

/** The commands, by the method name ioredis gives them. */
export const LEDGER_COMMANDS = {
  mqCreateBatch: "createBatch-3",
  mqAppendItems: "appendItems-1",
  mqTransition: "transition-2",
  mqHandBack: "handBack-3",
  mqStartJob: "startJob-3",
  mqStartStage: "startStage-4",
  mqRecordResult: "recordResult-2",
  mqCancelBatch: "cancelBatch-1",
  mqRetryBatch: "retryBatch-1",
  mqRequestPackage: "requestPackage-1",
  mqUpdatePackage: "updatePackage-1",
  mqPublish: "publish-2",
  mqAdvanceWebhooks: "advanceWebhooks-4",
  mqRecordDelivery: "recordDelivery-2",
  mqForgetExpiredPackage: "forgetExpiredPackage-1",
} as const;

type Arg = string | number;
type Reply = (string | number)[];

declare module "ioredis" {
  interface RedisCommander<Context> {
    mqCreateBatch(...args: Arg[]): Result<Reply, Context>;
    mqAppendItems(...args: Arg[]): Result<Reply, Context>;
    mqTransition(...args: Arg[]): Result<number, Context>;
    mqHandBack(...args: Arg[]): Result<number, Context>;
    mqStartJob(...args: Arg[]): Result<"done" | "orphan" | "failed" | "started", Context>;
    mqStartStage(...args: Arg[]): Result<"done" | "orphan" | "started", Context>;
    mqRecordResult(...args: Arg[]): Result<[string, string], Context>;
    mqCancelBatch(...args: Arg[]): Result<Reply, Context>;
    mqRetryBatch(...args: Arg[]): Result<Reply, Context>;
    mqRequestPackage(...args: Arg[]): Result<[string, string, number], Context>;
    mqUpdatePackage(...args: Arg[]): Result<number, Context>;
    mqPublish(...args: Arg[]): Result<string | null, Context>;
    mqAdvanceWebhooks(...args: Arg[]): Result<number, Context>;
    mqRecordDelivery(...args: Arg[]): Result<number, Context>;
    mqForgetExpiredPackage(...args: Arg[]): Result<number, Context>;
  }
}

const INCLUDE = /^--- @include "([\w/-]+)"$/gm;

/** A script's source with its includes inlined. */
export function loadScript(file: string): string {
  const included = new Set<string>();
  const expand = (text: string): string =>
    text.replace(INCLUDE, (_, name: string) => {
      if (included.has(name)) return "";
      included.add(name);
      return expand(fs.readFileSync(new URL(`${name}.lua`, COMMANDS_DIR), "utf8"));
    });
  return expand(fs.readFileSync(new URL(`${file}.lua`, COMMANDS_DIR), "utf8"));
}

const sources = new Map<string, { lua: string; numberOfKeys: number }>();

/** Defines every ledger command on the client (idempotent). */
export function defineLedgerCommands(redis: Redis): void {
  for (const [method, file] of Object.entries(LEDGER_COMMANDS)) {
    let source = sources.get(file);
    if (!source) {
      source = { lua: loadScript(file), numberOfKeys: Number(file.slice(file.lastIndexOf("-") + 1)) };
      sources.set(file, source);
    }
    redis.defineCommand(method, source);
  }
}
