import { OUTPUT_FILE, objectKeys, type ResultRecord } from "@mediaq/shared";

/** A finished item's result record as a worker writes it, for tests that finish items without running one. */
export const stubResult = (jobKey: string): ResultRecord => ({
  jobKey,
  key: objectKeys.output(jobKey, OUTPUT_FILE),
  sha256: "0".repeat(64),
  size: 3,
  model: "m",
  adapter: "wav2lip",
  inputs: { video: "1".repeat(64), audio: "2".repeat(64) },
  params: {},
  completedAt: new Date().toISOString(),
});
