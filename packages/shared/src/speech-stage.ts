/**
 * Script to video (docs/architecture.md#script-to-video): a lip-sync item with a `text` input
 * and a voice runs a speech stage first. The stage is keyed exactly as a plain speech item of
 * the same text and voice with default params, so the same script in the same voice is
 * synthesized once, and the lip-sync key depends on the speech key, never on timing.
 */
import {
  type ChannelOrder,
  channelsOf,
  computeJobKey,
  type InferenceJob,
  normalizeParams,
  type SpeechStage,
} from "./jobs.ts";

/** The speech stage of `text` in `voice` (a piper model as registered), in a dedup scope. */
export function speechStageFor(o: {
  scope: string;
  text: string;
  voice: { sha256: string; channels?: ChannelOrder; config?: string };
}): SpeechStage {
  const voice = {
    sha256: o.voice.sha256,
    adapter: "piper" as const,
    channels: channelsOf({ adapter: "piper", channels: o.voice.channels }),
    ...(o.voice.config ? { config: o.voice.config } : {}),
  };
  const jobKey = computeJobKey({
    scope: o.scope,
    modelSha256: voice.sha256,
    adapter: "piper",
    channels: voice.channels,
    config: voice.config,
    inputs: { text: o.text },
    params: normalizeParams("piper", {}),
  });
  return { jobKey, voice };
}

/** The queue payload of an item's speech stage: a piper job marked as its parent's stage. */
export function speechJobFor(item: InferenceJob & { speech: SpeechStage }): InferenceJob {
  const text = item.inputs.text;
  if (!text) throw new Error("a speech stage needs the item's text input");
  return {
    jobKey: item.speech.jobKey,
    tenant: item.tenant,
    model: item.speech.voice,
    inputs: { text },
    params: normalizeParams("piper", {}),
    stage: { name: "speech", parent: item.jobKey },
  };
}
