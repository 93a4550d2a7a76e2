import { describe, expect, it } from "vitest";
import { redisKeys } from "../keys.ts";
import { isLedgerKey } from "./ledger-keys.ts";

describe("snapshot ledger keys", () => {
  it("keeps ledger keys and leaves out streams, package records and BullMQ keys", () => {
    const queues = ["mediaq:inference:", "mediaq:package:", "mediaq:maintenance:"];
    expect(isLedgerKey("mediaq:result:abc", queues)).toBe(true);
    expect(isLedgerKey("mediaq:job:abc:waiters", queues)).toBe(true);
    expect(isLedgerKey("mediaq:batch:b1:items", queues)).toBe(true);
    expect(isLedgerKey("mediaq:tenant:t:idem:k", queues)).toBe(true);
    expect(isLedgerKey("mediaq:batch:b1:events", queues)).toBe(false);
    expect(isLedgerKey(redisKeys.package("p1"), [])).toBe(false);
    expect(isLedgerKey("mediaq:package:p1", queues)).toBe(false); // BullMQ's package queue
    expect(isLedgerKey("mediaq:inference:wait", queues)).toBe(false);
    expect(isLedgerKey("mediaq:maintenance:repeat", queues)).toBe(false);
    expect(isLedgerKey("other:result:abc", queues)).toBe(false);
  });
});
