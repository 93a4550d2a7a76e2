import { randomBytes } from "node:crypto";
import type { BatchItem, BatchRecord, ResultRecord } from "../src/index.ts";

/** A random 64-hex string (job keys, input hashes). */
export const hex = () => randomBytes(32).toString("hex");

export function batchRecord(id: string, tenant = "acme"): BatchRecord {
  return { id, tenant, model: "m".repeat(64), adapter: "wav2lip", params: {}, createdAt: new Date().toISOString() };
}

export function item(name: string, jobKey: string): BatchItem {
  return { name, jobKey, inputs: { video: "v".repeat(64), audio: "a".repeat(64) }, params: {} };
}

export function result(jobKey: string, key: string, sha256: string, size: number): ResultRecord {
  return {
    jobKey,
    key,
    sha256,
    size,
    model: "m".repeat(64),
    adapter: "wav2lip",
    inputs: { video: "v".repeat(64), audio: "a".repeat(64) },
    params: {},
    completedAt: new Date().toISOString(),
  };
}
