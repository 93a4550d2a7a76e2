import { describe, expect, it } from "vitest";
import { loadSnapshotSettings } from "./settings.ts";

describe("snapshot settings", () => {
  it("reads its settings with defaults and names a bad variable", () => {
    expect(loadSnapshotSettings({})).toEqual({ SNAPSHOT_RETENTION: 7, SNAPSHOT_EVERY_SECONDS: 3600 });
    expect(loadSnapshotSettings({ SNAPSHOT_EVERY_SECONDS: "0", SNAPSHOT_RETENTION: "3" })).toEqual({
      SNAPSHOT_RETENTION: 3,
      SNAPSHOT_EVERY_SECONDS: 0,
    });
    expect(() => loadSnapshotSettings({ SNAPSHOT_RETENTION: "0" })).toThrow(/SNAPSHOT_RETENTION/);
  });
});
