import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { PackageRecord } from "../packages.ts";
import { redisKeys as K } from "./keys.ts";
import { defineLedgerCommands } from "./script-loader.ts";

/**
 * Package records: one hash per package, each field a JSON value, expiring with the
 * package. Updates write only the fields they change, in one command, so concurrent
 * writers (the package job, its part jobs, the progress reporter) lose nothing.
 */
export class PackageStore {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
    defineLedgerCommands(redis);
  }

  async get(id: string): Promise<PackageRecord | undefined> {
    const raw = await this.redis.hgetall(K.package(id));
    if (Object.keys(raw).length === 0) return undefined;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v)])) as PackageRecord;
  }

  /**
   * Asks for a package: creates the record or returns the living one; a failed one is
   * queued again. `buildId` names the queue job of the current build (jobIdOf).
   */
  async request(record: PackageRecord): Promise<{ state: PackageRecord["state"]; buildId: string }> {
    const ttlMs = Math.max(1000, Date.parse(record.expiresAt) - Date.now());
    const [state, buildId] = await this.redis.mqRequestPackage(
      K.package(record.id),
      K.root,
      JSON.stringify(fieldPairs(record)),
      ttlMs,
      `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`,
    );
    return { state: state as PackageRecord["state"], buildId };
  }

  /** Writes the given fields (undefined removes one); undefined when the record is gone. */
  async update(id: string, patch: Partial<PackageRecord>): Promise<PackageRecord | undefined> {
    const set = fieldPairs(patch);
    const unset = Object.entries(patch)
      .filter(([, v]) => v === undefined)
      .map(([k]) => k);
    const ok = await this.redis.mqUpdatePackage(K.package(id), K.root, JSON.stringify(set), JSON.stringify(unset));
    return ok === 1 ? this.get(id) : undefined;
  }

  /** Removes the record (the sweeper, once the package's objects are deleted). */
  async delete(id: string): Promise<void> {
    await this.redis.del(K.package(id));
  }
}

/** The queue job id of one build of a package: a new build never collides with an older job. */
export const packageJobId = (packageId: string, buildId: string) => `${packageId}-${buildId}`;

function fieldPairs(o: object): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v === undefined ? [] : [k, JSON.stringify(v)]));
}
