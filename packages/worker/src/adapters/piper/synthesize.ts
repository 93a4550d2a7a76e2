import type { SynthesisSettings } from "./params.ts";
import type { SpeechPlan } from "./speech-plan.ts";
import type { VoiceRun } from "./run-voice.ts";
import type { WavWriter } from "./wav-writer.ts";

/** Runs the voice once (in the inference thread, or a session in tests and benches): its audio. */
export type RunVoice = (run: VoiceRun) => Promise<Float32Array>;

export interface SynthesisReport {
  seconds: number;
  sentences: number;
  runs: number;
}

/**
 * Speaks a plan sentence by sentence into a WAV: each run's audio is scaled to full range as
 * Piper does (by its own peak, never louder than 1/0.01), written out, and dropped, so memory
 * holds one run's audio whatever the script's length; `sentenceSilence` seconds of silence go
 * between sentences (not after the last, as in Piper).
 */
export async function synthesize(
  plan: SpeechPlan,
  settings: SynthesisSettings,
  runVoice: RunVoice,
  wav: WavWriter,
  onSentence?: (done: number, total: number) => void,
): Promise<SynthesisReport> {
  const silence = Math.round(settings.sentenceSilence * settings.sampleRate);
  let runs = 0;
  for (const [i, sentence] of plan.sentences.entries()) {
    for (const ids of sentence.runs) {
      const audio = await runVoice({ ids, scales: settings.scales, speakerId: settings.speakerId });
      await wav.write(toPcm16(audio));
      runs++;
    }
    if (i < plan.sentences.length - 1) await wav.writeSilence(silence);
    onSentence?.(i + 1, plan.sentences.length);
  }
  return { seconds: wav.seconds, sentences: plan.sentences.length, runs };
}

/** Float audio to 16-bit PCM, scaled so its peak fills the range (Piper's MAX_WAV_VALUE 32767). */
export function toPcm16(audio: Float32Array): Int16Array {
  let peak = 0.01;
  for (const v of audio) peak = Math.max(peak, Math.abs(v));
  const scale = 32767 / peak;
  const pcm = new Int16Array(audio.length);
  // Truncated toward zero, as Piper casts.
  for (let i = 0; i < audio.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.trunc(audio[i]! * scale)));
  return pcm;
}
