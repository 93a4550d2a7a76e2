/**
 * A Wav2Lip job: fetch -> probe -> track -> model -> audio (the output timeline), then the
 * frame path over all or part of it (docs/architecture.md#worker, #frame-path, #segments).
 */
import { channelsOf, type FaceTrackRecord, readFaceTrack, type SegmentProbe } from "@mediaq/shared";
import { type MelSpectrogram, melSampleSpan, melSpectrogramYielding, type SampleWindow } from "../../audio/mel.ts";
import { BadInputError } from "../../errors.ts";
import { boxCrop, type CropLookup, trackCrops } from "../../face/track.ts";
import { fetchInput } from "../../input-cache.ts";
import { FRAME_STAGES, type FramePathResult, runFramePath } from "../../frames/frame-path.ts";
import { AUDIO_RATE, decodeAudio, decodeAudioWindow, fitSamples } from "../../media/decode.ts";
import { audioInfo, checkBox, probeAudio, type VideoInfo, videoInfo } from "../../media/probe.ts";
import { COLOR_MATRICES, type ColorMatrix } from "../../media/yuv.ts";
import { outputFrameCount } from "../../media/timeline.ts";
import { countInferenceRun, type Span, trackScratch } from "../../pipeline.ts";
import type { ProcessorDeps } from "../../processor.ts";
import { stitchPieces } from "../../segments/stitch.ts";
import type { BoundModel, JobContext, PreparedJob, SegmentPart } from "../adapter.ts";
import { awaitSpeech, downloadSpeech } from "./speech.ts";
import { bindWav2Lip, runWav2LipBatch, type Wav2LipBinding, type Wav2LipParams } from "./binding.ts";

/** An item fetched and probed, with its face crops, model and output timeline. */
export interface PreparedItem {
  params: Wav2LipParams;
  labels: { video: string; audio: string; model: string };
  files: { video: string; audio: string };
  /** The inputs' blobs (the audio's: the item's input, or its speech stage's output). */
  blobs: { video: string; audio: string };
  video: VideoInfo;
  crops: { lookup: CropLookup; face?: PreparedJob["face"] };
  model: BoundModel<Wav2LipBinding>;
  /**
   * The audio fitted to the output timeline (16 kHz mono): all of it, or for a segment only
   * the window its mel reads (decoded on first use).
   */
  samples(): Promise<Float32Array | SampleWindow>;
  outputFrames: number;
}

/** The wav2lip side of PreparedJob: the whole output, or its segments. */
export async function prepareWav2Lip(ctx: JobContext<Wav2LipParams>): Promise<PreparedJob> {
  const p = await prepareItem(ctx);
  const { deps, stages, scratch, signal, progress } = ctx;
  return {
    face: p.crops.face,
    async produce(outFile, pictureFile) {
      const result = await inferFrames(ctx, p, {
        outFile,
        posterFile: pictureFile,
        onProgress: (done) => progress.report("infer", done, Math.max(done, p.outputFrames)),
      });
      return { units: result.frames, picture: pictureFile !== undefined };
    },
    segments: {
      frames: p.outputFrames,
      fps: p.video.fps,
      frameSize: { width: p.video.width, height: p.video.height },
      probe: async () => ({
        video: p.video,
        audioSeekable: audioInfo(
          await deps.probes.probe(p.blobs.audio, p.files.audio, p.labels.audio),
          p.labels.audio,
        ).codec.startsWith("pcm_"),
      }),
      async runRange(range, outFile) {
        const result = await inferFrames(ctx, p, {
          outFile,
          range,
          onProgress: (done) => progress.report("infer", done, range.count),
        });
        return { frames: result.frames, decoded: result.decodedFrames };
      },
      stitch: (pieces, outFile) =>
        stages.run("stitch", () =>
          stitchPieces(deps, { pieces, audioFile: p.files.audio, length: p.params.length }, scratch, outFile, signal),
        ),
    },
  };
}

/**
 * The mel spectrogram of the output timeline, or only what a segment's frames read; in
 * slices that let the event loop renew BullMQ's lock (docs/architecture.md#worker-deaths).
 */
async function melOf(p: PreparedItem, range?: { start: number; count: number }): Promise<MelSpectrogram> {
  return melSpectrogramYielding(await p.samples(), undefined, range ? { ...range, fps: p.video.fps } : undefined);
}

/** The item's probe as a segment job carries it, when it is one this worker reads. */
function probedVideo(probe: SegmentProbe | undefined): VideoInfo | undefined {
  if (!probe || !COLOR_MATRICES.includes(probe.video.colorMatrix as ColorMatrix)) return undefined;
  return { ...probe.video, colorMatrix: probe.video.colorMatrix as ColorMatrix };
}

/**
 * decodeAudio; a failure (or nothing decoded) is explained by probing the file (empty, not
 * media, no audio stream: messages a person can act on), which only such a decode needs.
 */
async function decodeChecked(
  decode: () => Promise<Float32Array>,
  file: string,
  label: string,
  signal: AbortSignal,
): Promise<Float32Array> {
  let samples: Float32Array;
  try {
    samples = await decode();
  } catch (err) {
    if (signal.aborted) throw err;
    await probeAudio(file, label);
    throw err;
  }
  // No audio stream, or one ffmpeg cannot decode, decodes to nothing without failing.
  if (samples.length === 0) await probeAudio(file, label);
  return samples;
}

/** A function that runs `fn` once, on its first call. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

/**
 * A segment's audio: the window of the item's fitted samples (16 kHz, `total` frames long at
 * `fps`) that its range's mel reads, decoded alone (decodeAudioWindow); silence past the
 * audio's end, as fitSamples pads it.
 */
async function segmentSamples(
  file: string,
  label: string,
  fps: number,
  segment: SegmentPart,
  signal: AbortSignal,
): Promise<SampleWindow> {
  const length = Math.max(1, Math.round((segment.total / fps) * AUDIO_RATE));
  const [from, to] = melSampleSpan(length, { ...segment.range, fps });
  const seekable = segment.probe?.audioSeekable ?? false;
  const decoded = await decodeChecked(
    () => decodeAudioWindow(file, label, { from, to, seekable }, signal),
    file,
    label,
    signal,
  );
  const data = new Float32Array(to - from); // zero = silence past the end
  data.set(decoded.subarray(0, to - from));
  return { data, offset: from, length };
}

/**
 * The crop of each source frame: the user's box on every frame, or the face track's padded
 * boxes (null where no face was found: the frame passes through unchanged).
 */
async function faceCrops(
  deps: ProcessorDeps,
  params: Wav2LipParams,
  record: FaceTrackRecord | undefined,
  video: { width: number; height: number; frames: number },
  label: string,
): Promise<PreparedItem["crops"]> {
  if (params.box) {
    const rect = boxCrop(params.box); // checked against the frame at probe
    return { lookup: () => rect };
  }
  if (!record) throw new Error("no face track for an item without a box"); // awaitFaceTrack gives one
  if (record.framesWithoutFace >= record.frames)
    throw new BadInputError(
      `no face was found in any of the ${record.frames} frames of ${label}; ` +
        "give the face's position with params.box [x, y, width, height], or lower params.faceMinScore",
    );
  const track = await readFaceTrack(deps.s3, deps.config.S3_BUCKET, record);
  return {
    lookup: trackCrops(track.boxes, params.pads, video.width, video.height),
    face: { trackKey: record.trackKey, frames: record.frames, framesWithoutFace: record.framesWithoutFace },
  };
}

/** fetch -> probe -> track -> model -> audio (decoding from the probe on): everything before the frame path. */
export async function prepareItem(ctx: JobContext<Wav2LipParams>): Promise<PreparedItem> {
  const { deps, data, params, track, scratch, stages, signal, segment } = ctx;
  const { config, metrics } = deps;
  const videoBlob = data.inputs.video;
  // Script to video: the audio is the item's speech stage, spoken first (docs/architecture.md#script-to-video).
  const speech = data.speech ? await awaitSpeech(ctx, { ...data, speech: data.speech }) : undefined;
  const audio = speech ? speech.sha256 : data.inputs.audio;
  if (!videoBlob || !audio)
    throw new BadInputError("the wav2lip adapter needs inputs video and audio (or text and a voice)");
  const labels = {
    video: `video input ${videoBlob.slice(0, 12)}`,
    audio: speech ? `speech ${speech.jobKey.slice(0, 12)}` : `audio input ${audio.slice(0, 12)}`,
    model: `model ${data.model.sha256.slice(0, 12)}`,
  };
  const files = { video: scratch.path("video"), audio: scratch.path("audio") };

  const session = deps.models.get(data.model.sha256);
  session.catch(() => {}); // awaited below; keeps an early model failure from going unhandled
  await stages.run("fetch", async () => {
    await Promise.all([
      fetchInput(deps, videoBlob, labels.video, files.video),
      speech ? downloadSpeech(ctx, speech, files.audio) : fetchInput(deps, audio, labels.audio, files.audio),
    ]);
    trackScratch(metrics, scratch.dir, await scratch.size());
  });

  // With length=audio the audio decodes while the video is probed and its crops found (it
  // needs neither); a failure is reported after the probe's, which names an unreadable file
  // more plainly. A segment decodes only the window its mel reads.
  const decodeWhole = () =>
    decodeChecked(() => decodeAudio(files.audio, labels.audio, signal), files.audio, labels.audio, signal);
  const decodedAudio = params.length === "audio" && !segment ? decodeWhole() : undefined;
  decodedAudio?.catch(() => {}); // awaited below
  // One ffprobe per item: its segments are handed the item's probe.
  const given = probedVideo(segment?.probe);
  const video = await stages.run("probe", async () => {
    const video =
      given ??
      videoInfo(await deps.probes.probe(videoBlob, files.video, labels.video), labels.video, config.MAX_FRAME_PIXELS);
    checkBox(params.box, video);
    return video;
  });
  // The face crop of each source frame (the output loops over them), null = no face.
  const crops = await stages.run("track", () => faceCrops(deps, params, track, video, labels.video));

  const model = await stages.run("model", async () => {
    const s = await session;
    return { session: s, binding: bindWav2Lip(s, labels.model) };
  });

  // The output timeline (media/timeline.ts): as long as the audio, or as the video. The audio
  // covers it exactly (trimmed or padded with silence): its mel has one window per output frame.
  // "audio": what is left of the decode once the model is ready.
  const { samples, outputFrames } = await stages.run("audio", async () => {
    if (segment && given) {
      const part = segment;
      return {
        samples: once(() => segmentSamples(files.audio, labels.audio, video.fps, part, signal)),
        outputFrames: segment.total,
      };
    }
    if (params.length === "video") {
      const outputFrames = video.frames;
      return { samples: once(async () => fitSamples(await decodeWhole(), outputFrames / video.fps)), outputFrames };
    }
    const decoded = await (decodedAudio ?? decodeWhole());
    const outputFrames = outputFrameCount({
      length: params.length,
      fps: video.fps,
      audioSeconds: decoded.length / AUDIO_RATE,
      videoFrames: video.frames,
    });
    const fitted = fitSamples(decoded, outputFrames / video.fps);
    return { samples: async () => fitted, outputFrames };
  });
  return { params, labels, files, blobs: { video: videoBlob, audio }, video, crops, model, samples, outputFrames };
}

/**
 * The frame path over the item's output timeline, or over `range` of it (a segment, encoded
 * without audio). Stage busy times go into the timings.
 */
export async function inferFrames(
  ctx: JobContext<Wav2LipParams>,
  p: PreparedItem,
  o: {
    outFile: string;
    /** A JPEG of the first frame, written by the encoder. */
    posterFile?: string;
    range?: { start: number; count: number };
    onProgress(done: number): void;
  },
): Promise<FramePathResult> {
  const { deps, data, stages, signal } = ctx;
  const { config } = deps;
  // The frame path holds the card only from its first model call to its last; with prefetch
  // the next job may decode and crop meanwhile, but never run the model at the same time.
  const mel = await stages.run("mel", () => melOf(p, o.range));
  const result = await stages.run("infer", async () =>
    runFramePath({
      videoFile: p.files.video,
      videoLabel: p.labels.video,
      video: p.video,
      audioFile: o.range ? undefined : p.files.audio,
      outFile: o.outFile,
      mel,
      timeline: {
        frames: p.params.length === "video" ? "clip" : p.outputFrames,
        range: o.range,
        loop: p.params.loop,
        bufferBytes: config.LOOP_BUFFER_BYTES,
      },
      rectOf: p.crops.lookup,
      order: channelsOf(data.model),
      batchSize: config.INFERENCE_BATCH_SIZE,
      fixedBatch: p.model.binding.fixedBatch,
      ops: deps.frameOps,
      run: (batch) => runWav2LipBatch(p.model.session.run, p.model.binding, batch),
      cardLock: deps.inferenceLock,
      codecs: deps.codecs,
      clips: { cache: deps.clips, blob: p.blobs.video },
      lossless: config.VIDEO_LOSSLESS,
      posterFile: o.posterFile,
      signal,
      onProgress: o.onProgress,
    }),
  );
  const [start, end] = result.cardSpan ?? (stages.spans.infer as Span);
  await countInferenceRun(deps, data.jobKey, { start, end, runSeconds: result.busy.inference });
  for (const name of FRAME_STAGES) stages.timings[name] = Math.round(result.busy[name] * 1000) / 1000;
  return result;
}
