import os from "node:os";
import type { Redis } from "ioredis";
import { redisKeys as K } from "./keys.ts";
import { defineLedgerCommands } from "./script-loader.ts";

/** A part that was written completely and checked against its planned size. */
export interface BuiltPart {
  name: string;
  key: string;
  size: number;
  sha256: string;
  /** Item indexes (batch order) stored in this part. */
  items: number[];
}

/** The parts planned for a package, fixed once so a resumed package builds the same parts. */
export interface StoredPlan<P = unknown> {
  parts: P[];
  totalBytes: number;
}

/** The process building parts, as recorded in the builders hash. */
export const BUILDER_ID = `${os.hostname()}:${process.pid}`;

const expireAt = (expiresAt: string) => String(Date.parse(expiresAt));
const sumValues = (values: string[]) => values.reduce((s, v) => s + Number(v), 0);

/**
 * A package's build state while it is built (plan, manifest, finished parts, progress, build
 * counts), shared by the package job and its part jobs, which may run in different packager
 * processes; and the expiry index the sweeper walks. Every build key expires with the
 * package (keys.ts: packageState, packageExpiry; docs/architecture.md#packager).
 */
export class PackageBuilds {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
    defineLedgerCommands(redis);
  }

  /** Stores the plan unless one is stored already; returns the stored one (and its manifest). */
  async keepPlan<P>(
    packageId: string,
    expiresAt: string,
    make: () => Promise<{ plan: StoredPlan<P>; manifest: Buffer }>,
  ): Promise<{ plan: StoredPlan<P>; manifest: Buffer }> {
    const stored = await this.loadPlan<P>(packageId);
    if (stored) return stored;
    const { plan, manifest } = await make();
    const at = expireAt(expiresAt);
    await this.redis
      .multi()
      .set(K.packageState(packageId, "plan"), JSON.stringify(plan), "PXAT", at, "NX")
      .set(K.packageState(packageId, "manifest"), manifest, "PXAT", at, "NX")
      .exec();
    return (await this.loadPlan<P>(packageId)) ?? { plan, manifest };
  }

  async loadPlan<P>(packageId: string): Promise<{ plan: StoredPlan<P>; manifest: Buffer } | undefined> {
    const [plan, manifest] = await Promise.all([
      this.redis.get(K.packageState(packageId, "plan")),
      this.redis.getBuffer(K.packageState(packageId, "manifest")),
    ]);
    return plan && manifest ? { plan: JSON.parse(plan) as StoredPlan<P>, manifest } : undefined;
  }

  /** The bytes of manifest.json as written into every part; null once the package expired. */
  async manifest(packageId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(K.packageState(packageId, "manifest"));
  }

  /** Part name -> finished part: the parts a retried package does not rebuild. */
  async builtParts(packageId: string): Promise<Map<string, BuiltPart>> {
    const raw = await this.redis.hgetall(K.packageState(packageId, "parts"));
    return new Map(Object.entries(raw).map(([name, json]) => [name, JSON.parse(json) as BuiltPart]));
  }

  async builtPart(packageId: string, name: string): Promise<BuiltPart | undefined> {
    const raw = await this.redis.hget(K.packageState(packageId, "parts"), name);
    return raw ? (JSON.parse(raw) as BuiltPart) : undefined;
  }

  async rememberBuiltPart(packageId: string, expiresAt: string, part: BuiltPart): Promise<void> {
    const key = K.packageState(packageId, "parts");
    await this.redis.multi().hset(key, part.name, JSON.stringify(part)).pexpireat(key, expireAt(expiresAt)).exec();
  }

  /** Counts a part's build start (a resumed package shows 1s) and names the process building it. */
  async countBuildStart(packageId: string, expiresAt: string, name: string): Promise<void> {
    const builds = K.packageState(packageId, "builds");
    const builders = K.packageState(packageId, "builders");
    const at = expireAt(expiresAt);
    await this.redis
      .multi()
      .hincrby(builds, name, 1)
      .pexpireat(builds, at)
      .hset(builders, name, BUILDER_ID)
      .pexpireat(builders, at)
      .exec();
  }

  /** Part name -> build starts, and part name -> the process that last started it. */
  async builds(packageId: string): Promise<{ builds: Record<string, string>; builders: Record<string, string> }> {
    const [builds, builders] = await Promise.all([
      this.redis.hgetall(K.packageState(packageId, "builds")),
      this.redis.hgetall(K.packageState(packageId, "builders")),
    ]);
    return { builds, builders };
  }

  /** Records one part's bytes and returns the bytes written across all parts. */
  async recordPartBytes(packageId: string, expiresAt: string, name: string, bytes: number): Promise<number> {
    const key = K.packageState(packageId, "progress");
    const res = await this.redis.multi().hset(key, name, bytes).pexpireat(key, expireAt(expiresAt)).hvals(key).exec();
    return sumValues((res?.[2]?.[1] as string[] | undefined) ?? []);
  }

  async bytesWritten(packageId: string): Promise<number> {
    return sumValues(await this.redis.hvals(K.packageState(packageId, "progress")));
  }

  /**
   * Package records vanish on their own (Redis TTL), but their objects in S3 do not: the
   * expiry index remembers every package id that may have objects, scored by its expiry
   * (epoch ms), so the sweeper finds what to delete without listing the bucket.
   */
  async rememberExpiry(packageId: string, expiresAt: string): Promise<void> {
    await this.redis.zadd(K.packageExpiry, Date.parse(expiresAt), packageId);
  }

  /** Package ids whose expiry passed, with that expiry (epoch ms). */
  async expired(now: number, limit = 100): Promise<{ id: string; expiry: number }[]> {
    const flat = await this.redis.zrangebyscore(K.packageExpiry, "-inf", now, "WITHSCORES", "LIMIT", 0, limit);
    const found: { id: string; expiry: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) found.push({ id: flat[i] as string, expiry: Number(flat[i + 1]) });
    return found;
  }

  /** Forgets a swept id unless it was asked for again with a later expiry (forgetExpiredPackage-1). */
  async forgetExpired(packageId: string, expiry: number): Promise<boolean> {
    return (await this.redis.mqForgetExpiredPackage(K.packageExpiry, packageId, expiry)) === 1;
  }
}
