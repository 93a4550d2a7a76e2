import { describe, expect, it } from "vitest";
import { BadInputError } from "../../errors.ts";
import { parseVoiceConfig } from "./voice-config.ts";
import { voiceConfigFor } from "./voice-model.ts";

const json = (o: unknown) => JSON.stringify(o);

describe("parseVoiceConfig", () => {
  it("reads a config laid out as Piper's and keeps fields it does not check", () => {
    const config = parseVoiceConfig(json(voiceConfigFor({ sampleRate: 22050, speakers: ["ann", "bob"] })));
    expect(config.audio.sample_rate).toBe(22050);
    expect(config.espeak?.voice).toBe("en-us");
    expect(config.phoneme_id_map["ə"]).toEqual([59]);
    expect(config.inference).toEqual({ noise_scale: 0.667, length_scale: 1, noise_w: 0.8 });
    expect(config.num_speakers).toBe(2);
    expect(config.speaker_id_map).toEqual({ ann: 0, bob: 1 });
    expect((config as Record<string, unknown>).dataset).toBe("mediaq-test-voice");
  });

  it("fills Piper's defaults where the config leaves them out", () => {
    const config = parseVoiceConfig(
      json({ audio: { sample_rate: 16000 }, espeak: { voice: "de" }, phoneme_id_map: { _: [0], "^": [1], $: [2] } }),
    );
    expect(config.phoneme_type).toBe("espeak");
    expect(config.inference).toEqual({ noise_scale: 0.667, length_scale: 1, noise_w: 0.8 });
    expect(config.num_speakers).toBe(1);
  });

  it.each([
    ["not JSON", "{audio", /is not JSON/],
    ["no sample rate", json({ espeak: { voice: "en" }, phoneme_id_map: {} }), /audio: /],
    [
      "no pad in the map",
      json({ audio: { sample_rate: 22050 }, espeak: { voice: "en" }, phoneme_id_map: { "^": [1], $: [2] } }),
      /phoneme_id_map: has no id for "_"/,
    ],
    [
      "no espeak voice",
      json({ audio: { sample_rate: 22050 }, phoneme_id_map: { _: [0], "^": [1], $: [2] } }),
      /espeak.voice: is required for phoneme_type espeak/,
    ],
    [
      "a phoneme type mediaq does not speak",
      json({ ...voiceConfigFor({ sampleRate: 22050 }), phoneme_type: "pinyin" }),
      /phoneme_type: /,
    ],
    [
      "an id beyond num_symbols",
      json({ ...voiceConfigFor({ sampleRate: 22050 }), num_symbols: 100 }),
      /phoneme_id_map: has ids beyond num_symbols 100 \(for "0", "1", "2", "3", "4" and 56 more\)/,
    ],
    [
      "a speaker beyond num_speakers",
      json({ ...voiceConfigFor({ sampleRate: 22050 }), speaker_id_map: { ann: 3 } }),
      /speaker_id_map.ann: is 3, beyond num_speakers 1/,
    ],
  ])("refuses %s, saying where", (_, text, message) => {
    expect(() => parseVoiceConfig(text)).toThrow(BadInputError);
    expect(() => parseVoiceConfig(text)).toThrow(message);
  });
});
