/**
 * A speech job: fetch the text and the voice's config -> bind the voice -> phonemize the
 * whole text -> synthesize sentence by sentence into a WAV (docs/architecture.md#adapters).
 */
import fs from "node:fs/promises";
import { downloadBlob } from "../../fetch.ts";
import { BadInputError } from "../../errors.ts";
import { countInferenceRun } from "../../pipeline.ts";
import type { JobContext, PreparedJob } from "../adapter.ts";
import { bindPiper } from "./binding.ts";
import { type PiperParams, resolveSettings } from "./params.ts";
import { runVoice } from "./run-voice.ts";
import { decodeScript } from "./script-text.ts";
import { planSpeech } from "./speech-plan.ts";
import { synthesize } from "./synthesize.ts";
import { parseVoiceConfig } from "./voice-config.ts";
import { WavWriter } from "./wav-writer.ts";

export async function preparePiper(ctx: JobContext<PiperParams>): Promise<PreparedJob> {
  const { deps, data, params, scratch, stages, progress } = ctx;
  const { s3, config: workerConfig } = deps;
  const text = data.inputs.text;
  if (!text) throw new BadInputError("the piper adapter needs input text");
  const configSha = data.model.config;
  const labels = {
    text: `text input ${text.slice(0, 12)}`,
    config: `voice config ${configSha?.slice(0, 12)}`,
    model: `voice ${data.model.sha256.slice(0, 12)}`,
  };
  if (!configSha)
    throw new BadInputError(
      `${labels.model} was registered without its .onnx.json config: register it again with ?config=<sha256 of the config blob>`,
    );

  const session = deps.models.get(data.model.sha256);
  session.catch(() => {}); // awaited below; keeps an early model failure from going unhandled
  const files = { text: scratch.path("text"), config: scratch.path("config") };
  await stages.run("fetch", () =>
    Promise.all([
      downloadBlob(s3, workerConfig.S3_BUCKET, text, labels.text, files.text),
      downloadBlob(s3, workerConfig.S3_BUCKET, configSha, labels.config, files.config),
    ]),
  );
  const script = decodeScript(await fs.readFile(files.text), labels.text);
  const voice = parseVoiceConfig(await fs.readFile(files.config), labels.config);
  const settings = resolveSettings(params, voice);
  const model = await stages.run("model", async () => {
    const s = await session;
    return { session: s, binding: bindPiper(s, voice, labels.model) };
  });
  // Every sentence is phonemized and mapped before the first run: a bad text fails whole, at once.
  const plan = await stages.run("phonemize", () => planSpeech(script, voice));

  return {
    async produce(outFile) {
      const wav = await WavWriter.create(outFile, settings.sampleRate);
      let runSeconds = 0;
      // The card is held from the first sentence to the last, as the frame path holds it.
      const release = await deps.inferenceLock.acquire();
      const start = Date.now();
      try {
        await stages.run("infer", () =>
          synthesize(
            plan,
            settings,
            async (run) => {
              const result = await runVoice(model.session.run, model.binding, run);
              runSeconds += result.runSeconds;
              return result.audio;
            },
            wav,
            (done, total) => progress.report("infer", done, total),
          ),
        );
      } finally {
        release();
        await wav.close();
      }
      await countInferenceRun(deps, data.jobKey, { start, end: Date.now(), runSeconds });
      stages.timings.inference = Math.round(runSeconds * 1000) / 1000;
      return { units: Math.round(wav.seconds * settings.sampleRate) };
    },
  };
}
