import { describe, expect, it } from "vitest";
import { redisKeys } from "../ledger/keys.ts";
import { isLedgerKey } from "./ledger-keys.ts";

const jobKey = "a".repeat(64);

describe("snapshot ledger keys", () => {
  it("carries the named ledger keys", () => {
    for (const key of [
      redisKeys.result(jobKey),
      redisKeys.job(jobKey),
      redisKeys.waiters(jobKey),
      redisKeys.batch("b1"),
      redisKeys.batchItems("b1"),
      redisKeys.batchNames("b1"),
      redisKeys.batchCounts("b1"),
      redisKeys.batchCancelled("b1"),
      redisKeys.tenantBatches("t"),
      redisKeys.tenantBlobs("t"),
      redisKeys.tenantModels("t"),
      redisKeys.idempotency("t", "k:with:colons"),
      redisKeys.outbox,
    ])
      expect(isLedgerKey(key), key).toBe(true);
  });

  it("leaves out streams, package state, stats, rate limits and BullMQ keys", () => {
    for (const key of [
      redisKeys.batchEvents("b1"),
      redisKeys.package("p1"),
      redisKeys.packageState("p1", "plan"),
      redisKeys.packageExpiry,
      redisKeys.inferenceRuns,
      redisKeys.inferenceSpans("w1"),
      "mediaq:package:p1",
      "mediaq:inference:wait",
      `mediaq:inference:${jobKey}`,
      "mediaq:maintenance:repeat",
      "mediaq:ratelimit:acme",
      "other:result:abc",
    ])
      expect(isLedgerKey(key), key).toBe(false);
  });
});
