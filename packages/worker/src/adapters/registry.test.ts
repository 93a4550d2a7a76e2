import { ADAPTERS, type AdapterName, BATCH_ADAPTERS, type InferenceJob } from "@mediaq/shared";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../errors.ts";
import { REGISTRY, resolveAdapter } from "./registry.ts";

const hex = (c: string) => c.repeat(64);
const job = (
  adapter: AdapterName,
  inputs: Record<string, string>,
  params: Record<string, unknown> = {},
): InferenceJob => ({
  jobKey: hex("f"),
  tenant: "acme",
  model: { sha256: hex("a"), adapter },
  inputs,
  params,
});

describe("adapter registry", () => {
  it("has a worker adapter for every adapter a batch can run, under its own name", () => {
    expect(Object.keys(REGISTRY).sort()).toEqual([...BATCH_ADAPTERS].sort());
    for (const [name, adapter] of Object.entries(REGISTRY)) expect(adapter?.name).toBe(name);
  });

  it("resolves a job's adapter with its params' defaults", () => {
    const { adapter, params } = resolveAdapter(job("wav2lip", { video: hex("b"), audio: hex("c") }));
    expect(adapter.name).toBe("wav2lip");
    expect(params).toEqual(ADAPTERS.wav2lip.params.parse({}));
    expect(adapter.output(params)).toMatchObject({ kind: "video", file: "output.mp4", contentType: "video/mp4" });
  });

  it("fails what it cannot run as bad input, with the reason", () => {
    expect(() => resolveAdapter(job("blazeface", { video: hex("b") }))).toThrow(BadInputError);
    expect(() => resolveAdapter(job("wav2lip", { video: hex("b") }))).toThrow(/takes inputs \{video, audio\}/);
    expect(() => resolveAdapter(job("wav2lip", { video: hex("b"), audio: hex("c") }, { loop: "x" }))).toThrow(
      /invalid wav2lip params: loop/,
    );
  });
});
