import { describe, expect, it } from "vitest";
import { ADAPTERS, BATCH_ADAPTERS, checkInputs } from "./adapters.ts";
import { inputsSchema } from "./jobs.ts";

const hex = (c: string) => c.repeat(64);

describe("adapter list", () => {
  it("runs batches only on adapters with inputs of their own", () => {
    expect(BATCH_ADAPTERS).toContain("wav2lip");
    expect(BATCH_ADAPTERS).not.toContain("blazeface");
    for (const name of BATCH_ADAPTERS) expect(ADAPTERS[name].inputs.length).toBeGreaterThan(0);
  });

  it("takes exactly one of an adapter's input sets, in any order", () => {
    expect(checkInputs("wav2lip", { audio: hex("a"), video: hex("b") })).toMatchObject({ ok: true });
    expect(checkInputs("wav2lip", { video: hex("b"), audio: hex("a"), text: hex("c") })).toEqual({
      ok: false,
      message: "the wav2lip adapter takes inputs {video, audio} or {video, text}; got {audio, text, video}",
    });
    expect(checkInputs("wav2lip", { text: hex("c"), video: hex("b") })).toMatchObject({ ok: true });
    expect(checkInputs("blazeface", { video: hex("b") })).toMatchObject({ ok: false });
  });

  it("refuses input names that are not identifiers, and no inputs at all", () => {
    expect(inputsSchema.safeParse({ video: hex("a") }).success).toBe(true);
    expect(inputsSchema.safeParse({}).success).toBe(false);
    expect(inputsSchema.safeParse({ "Video File": hex("a") }).success).toBe(false);
    expect(inputsSchema.safeParse({ video: "not-a-hash" }).success).toBe(false);
  });
});
