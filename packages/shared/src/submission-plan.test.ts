import { describe, expect, it } from "vitest";
import { avatarPlan, csvPlan, idempotencyKey, pairFiles, scriptPlan, submissionBody } from "./submission-plan.ts";
import { sha256Hex } from "./hashing.ts";

describe("submission plan", () => {
  it("pairs <name>.mp4 with the first of .wav, .mp3, .m4a and refuses the rest with a reason", () => {
    const plan = pairFiles([
      "d/b.mp4",
      "d/a.mp4",
      "d/a.m4a",
      "d/a.wav",
      "d/b.MP3",
      "d/lone.mp4",
      "d/voice.wav",
      "d/notes.txt",
    ]);
    expect(plan.items).toEqual([
      { name: "a.mp4", video: "d/a.mp4", audio: "d/a.wav" },
      { name: "b.mp4", video: "d/b.mp4", audio: "d/b.MP3" },
    ]);
    expect(plan.refused).toEqual([
      { file: "d/notes.txt", reason: "not a video (.mp4) or audio (.wav, .mp3, .m4a) file" },
      { file: "d/a.m4a", reason: "a is paired already (a.mp4 with a.wav)" },
      { file: "d/lone.mp4", reason: "no audio named lone.wav, .mp3 or .m4a" },
      { file: "d/voice.wav", reason: "no video named voice.mp4" },
    ]);
  });

  it("makes one item per narration for an avatar video, and reads CSV rows", () => {
    expect(avatarPlan("face.mp4", ["face.mp4", "b.wav", "a.mp3", "x.txt"])).toEqual({
      items: [
        { name: "a.mp4", video: "face.mp4", audio: "a.mp3" },
        { name: "b.mp4", video: "face.mp4", audio: "b.wav" },
      ],
      refused: [{ file: "x.txt", reason: "with one avatar video, every other file must be an audio file" }],
    });
    expect(
      csvPlan([
        { name: "n", video: "v.mp4", audio: "a.wav" },
        { name: "m", video: "", audio: "b.wav" },
      ]),
    ).toEqual({
      items: [{ name: "n", video: "v.mp4", audio: "a.wav" }],
      refused: [{ file: "row 3", reason: "needs the columns name, video and audio" }],
    });
  });

  it("derives the Idempotency-Key from the manifest, independent of key order; empty params are left out", async () => {
    const items = [{ name: "a.mp4", video: "1".repeat(64), audio: "2".repeat(64) }];
    const a = submissionBody({ model: "demo", params: {}, items });
    const b = submissionBody({ model: "demo", items });
    expect(a).toEqual({
      model: "demo",
      params: undefined,
      items: [{ name: "a.mp4", inputs: { video: "1".repeat(64), audio: "2".repeat(64) } }],
    });
    const key = await idempotencyKey(a, sha256Hex);
    expect(key).toBe(await idempotencyKey(b, sha256Hex));
    expect(key).toBe(
      sha256Hex(
        `{"items":[{"inputs":{"audio":"${"2".repeat(64)}","video":"${"1".repeat(64)}"},"name":"a.mp4"}],"model":"demo"}`,
      ),
    );
    expect(
      await idempotencyKey(submissionBody({ model: "demo", params: { loop: "forward" }, items }), sha256Hex),
    ).not.toBe(key);
  });
});

describe("scriptPlan", () => {
  it("pairs name.txt with name.mp4, refusing the unpaired", () => {
    expect(scriptPlan(["a.txt", "a.mp4", "b.txt", "c.mp4", "notes.md"])).toEqual({
      items: [{ name: "a.mp4", text: "a.txt", video: "a.mp4" }],
      refused: [
        { file: "notes.md", reason: "not a script (.txt) or video (.mp4) file" },
        { file: "b.txt", reason: "no video named b.mp4" },
        { file: "c.mp4", reason: "no script named c.txt" },
      ],
    });
  });

  it("lets one avatar video speak every script, and makes scripts alone speech items", () => {
    expect(scriptPlan(["face.mp4", "b.txt", "a.txt"]).items).toEqual([
      { name: "a.mp4", text: "a.txt", video: "face.mp4" },
      { name: "b.mp4", text: "b.txt", video: "face.mp4" },
    ]);
    expect(scriptPlan(["b.txt", "a.txt"]).items).toEqual([
      { name: "a.wav", text: "a.txt" },
      { name: "b.wav", text: "b.txt" },
    ]);
  });
});
