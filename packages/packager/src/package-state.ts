import os from "node:os";
import { redisKeys } from "@mediaq/shared";
import type { Redis } from "ioredis";
import type { PlannedPart } from "./plan.ts";

/**
 * Redis state of one package while it is built, shared by the package job (parent) and
 * its part jobs (children), which may run in different packager processes. Every key
 * expires with the package record, so nothing outlives the package.
 */
export const packageStateKeys = {
  /** JSON of the planned parts: fixed once, so a resumed package builds the same parts. */
  plan: (id: string) => `${redisKeys.package(id)}:plan`,
  /** The bytes of manifest.json as written into every part. */
  manifest: (id: string) => `${redisKeys.package(id)}:manifest`,
  /** part name -> finished part (JSON): the parts a retried package does not rebuild. */
  parts: (id: string) => `${redisKeys.package(id)}:parts`,
  /** part name -> bytes written so far. */
  progress: (id: string) => `${redisKeys.package(id)}:progress`,
  /** part name -> how many times a build of it started (a resumed package shows 1s). */
  builds: (id: string) => `${redisKeys.package(id)}:builds`,
  /** part name -> the process (host:pid) that last started building it. */
  builders: (id: string) => `${redisKeys.package(id)}:builders`,
};

/** A part that was written completely and checked against its planned size. */
export interface BuiltPart {
  name: string;
  key: string;
  size: number;
  sha256: string;
  /** Item indexes (batch order) stored in this part. */
  items: number[];
}

export interface StoredPlan {
  parts: PlannedPart[];
  totalBytes: number;
}

const expireAt = (expiresAt: string) => String(Date.parse(expiresAt));

/** Stores the plan unless one is stored already; returns the stored one (and its manifest). */
export async function keepPlan(
  redis: Redis,
  packageId: string,
  expiresAt: string,
  make: () => Promise<{ plan: StoredPlan; manifest: Buffer }>,
): Promise<{ plan: StoredPlan; manifest: Buffer }> {
  const stored = await loadPlan(redis, packageId);
  if (stored) return stored;
  const { plan, manifest } = await make();
  const at = expireAt(expiresAt);
  await redis
    .multi()
    .set(packageStateKeys.plan(packageId), JSON.stringify(plan), "PXAT", at, "NX")
    .set(packageStateKeys.manifest(packageId), manifest, "PXAT", at, "NX")
    .exec();
  return (await loadPlan(redis, packageId)) ?? { plan, manifest };
}

export async function loadPlan(
  redis: Redis,
  packageId: string,
): Promise<{ plan: StoredPlan; manifest: Buffer } | undefined> {
  const [plan, manifest] = await Promise.all([
    redis.get(packageStateKeys.plan(packageId)),
    redis.getBuffer(packageStateKeys.manifest(packageId)),
  ]);
  return plan && manifest ? { plan: JSON.parse(plan) as StoredPlan, manifest } : undefined;
}

export async function loadManifest(redis: Redis, packageId: string): Promise<Buffer | null> {
  return redis.getBuffer(packageStateKeys.manifest(packageId));
}

export async function builtParts(redis: Redis, packageId: string): Promise<Map<string, BuiltPart>> {
  const raw = await redis.hgetall(packageStateKeys.parts(packageId));
  return new Map(Object.entries(raw).map(([name, json]) => [name, JSON.parse(json) as BuiltPart]));
}

export async function builtPart(redis: Redis, packageId: string, name: string): Promise<BuiltPart | undefined> {
  const raw = await redis.hget(packageStateKeys.parts(packageId), name);
  return raw ? (JSON.parse(raw) as BuiltPart) : undefined;
}

export async function rememberBuiltPart(redis: Redis, packageId: string, expiresAt: string, part: BuiltPart) {
  const key = packageStateKeys.parts(packageId);
  await redis.multi().hset(key, part.name, JSON.stringify(part)).pexpireat(key, expireAt(expiresAt)).exec();
}

/** The process building parts, as recorded in the builders hash. */
export const BUILDER_ID = `${os.hostname()}:${process.pid}`;

export async function countBuildStart(redis: Redis, packageId: string, expiresAt: string, name: string) {
  const builds = packageStateKeys.builds(packageId);
  const builders = packageStateKeys.builders(packageId);
  const at = expireAt(expiresAt);
  await redis
    .multi()
    .hincrby(builds, name, 1)
    .pexpireat(builds, at)
    .hset(builders, name, BUILDER_ID)
    .pexpireat(builders, at)
    .exec();
}

/** Records one part's bytes and returns the bytes written across all parts. */
export async function recordPartBytes(
  redis: Redis,
  packageId: string,
  expiresAt: string,
  name: string,
  bytes: number,
): Promise<number> {
  const key = packageStateKeys.progress(packageId);
  const res = await redis.multi().hset(key, name, bytes).pexpireat(key, expireAt(expiresAt)).hvals(key).exec();
  return sumValues((res?.[2]?.[1] as string[] | undefined) ?? []);
}

export async function bytesWritten(redis: Redis, packageId: string): Promise<number> {
  return sumValues(await redis.hvals(packageStateKeys.progress(packageId)));
}

const sumValues = (values: string[]) => values.reduce((s, v) => s + Number(v), 0);
