import type { Redis } from "ioredis";
import type { LedgerOptions } from "./options.ts";
import { defineLedgerCommands } from "./script-loader.ts";

/** One concept's part of the ledger: the Redis client, with the ledger's Lua commands defined on it, and the options. */
export abstract class LedgerSection {
  protected readonly redis: Redis;
  protected readonly o: LedgerOptions;

  constructor(redis: Redis, o: LedgerOptions) {
    this.redis = redis;
    this.o = o;
    defineLedgerCommands(redis);
  }
}
