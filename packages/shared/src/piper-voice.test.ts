import { describe, expect, it } from "vitest";
import { computeJobKey } from "./jobs.ts";

const parts = {
  scope: "acme",
  modelSha256: "a".repeat(64),
  adapter: "piper" as const,
  inputs: { text: "b".repeat(64) },
  params: { sentenceSilence: 0.2, format: "wav" },
};

describe("a voice's config in the job key", () => {
  it("makes the same ONNX under another config another key", () => {
    const one = computeJobKey({ ...parts, config: "c".repeat(64) });
    const other = computeJobKey({ ...parts, config: "d".repeat(64) });
    expect(one).not.toBe(other);
    expect(one).not.toBe(computeJobKey(parts));
  });

  it("leaves the key of a model without a config as it was", () => {
    expect(computeJobKey({ ...parts, config: undefined })).toBe(computeJobKey(parts));
  });
});
