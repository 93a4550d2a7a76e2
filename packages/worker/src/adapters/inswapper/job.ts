/**
 * A face-swap job (docs/architecture.md#face-swap): fetch -> probe -> track (keypoints) ->
 * swapper (bound, its emap read) -> the source identity times the emap, then the swap frame
 * path over the whole video, its audio carried over.
 */
import { type AdapterParams, channelsOf, DEFAULT_FACE_DETECTOR, readFaceTrack } from "@mediaq/shared";
import { BadInputError } from "../../errors.ts";
import { fetchInput } from "../../input-cache.ts";
import { audioInfo, videoInfo } from "../../media/probe.ts";
import { countInferenceRun, type Span, trackScratch } from "../../pipeline.ts";
import type { InputWait, JobContext, PreparedJob } from "../adapter.ts";
import { awaitIdentity, identityJobOf, readIdentity } from "../arcface/identity-job.ts";
import { emapOfFile, swapperSource } from "./emap.ts";
import { featherMask } from "./mask.ts";
import { bindInswapper } from "./signature.ts";
import { SWAP_FLOATS, SWAP_SIZE } from "./signature.ts";
import { runSwapPath, SWAP_STAGES } from "./swap-path.ts";
import { trackTransforms } from "./track-transforms.ts";

export type InswapperParams = AdapterParams<"inswapper">;

const identityJob = (w: Pick<InputWait<InswapperParams>, "deps" | "data" | "params">) =>
  identityJobOf(w.deps.config, w.data.tenant, {
    image: w.data.inputs.face as string,
    recognizer: w.params.recognizer,
    detector: w.params.detector ?? DEFAULT_FACE_DETECTOR.sha256,
    faceMinScore: w.params.faceMinScore,
  });

/** The source identity, made once per (image, recognizer) by its own job. */
export async function awaitSourceIdentity(w: InputWait<InswapperParams>): Promise<void> {
  await awaitIdentity(w.deps, w.job, w.token, identityJob(w));
}

// The emap of each swapper, read once per process from its file (a real one is 500 MB).
const emaps = new Map<string, Promise<Float32Array>>();
function emapOf(sha256: string, file: string, label: string): Promise<Float32Array> {
  let emap = emaps.get(sha256);
  if (!emap) {
    emap = emapOfFile(file, label);
    emaps.set(sha256, emap);
    emap.catch(() => emaps.delete(sha256));
  }
  return emap;
}

export async function prepareInswapper(ctx: JobContext<InswapperParams>): Promise<PreparedJob> {
  const { deps, data, params, track, scratch, stages, signal, progress } = ctx;
  const { config, s3 } = deps;
  const video = data.inputs.video as string;
  const labels = { video: `video input ${video.slice(0, 12)}`, model: `model ${data.model.sha256.slice(0, 12)}` };
  const file = scratch.path("video");
  const session = deps.models.get(data.model.sha256);
  session.catch(() => {}); // awaited below
  await stages.run("fetch", async () => {
    await fetchInput(deps, video, labels.video, file);
    trackScratch(deps.metrics, scratch.dir, await scratch.size());
  });
  const { info, hasAudio } = await stages.run("probe", async () => {
    const probed = await deps.probes.probe(video, file, labels.video);
    const audio = (() => {
      try {
        return audioInfo(probed, labels.video);
      } catch {
        return undefined; // no audio stream (or none this ffmpeg decodes): a silent output
      }
    })();
    return { info: videoInfo(probed, labels.video, config.MAX_FRAME_PIXELS), hasAudio: audio !== undefined };
  });
  if (!track?.format) throw new Error("no face track with keypoints"); // awaitFaceTrack gives one
  const transforms = await stages.run("track", async () => {
    if (track.framesWithoutFace >= track.frames)
      throw new BadInputError(`no face was found in any of the ${track.frames} frames of ${labels.video}`);
    const boxes = await readFaceTrack(s3, config.S3_BUCKET, track);
    return trackTransforms(boxes.keypoints ?? [], SWAP_SIZE);
  });
  const { model, binding, source, identity } = await stages.run("model", async () => {
    const model = await session;
    const binding = bindInswapper(model, labels.model);
    const stored = await readIdentity(s3, config.S3_BUCKET, identityJob(ctx).identityKey);
    if (!stored) throw new Error("the source identity is not stored"); // awaitInputs waited for it
    if ("error" in stored) throw new BadInputError(stored.error);
    const emap = await emapOf(model.sha256, model.file, labels.model);
    // Shared: the inference thread reads it in place on every run.
    const source = new Float32Array(new SharedArrayBuffer(512 * 4));
    source.set(swapperSource(stored.embedding, emap));
    return { model, binding, source, identity: stored };
  });
  const note = identity.faces > 1 ? `the source image has ${identity.faces} faces; the largest was used` : undefined;
  return {
    face: { trackKey: track.trackKey, frames: track.frames, framesWithoutFace: track.framesWithoutFace, note },
    async produce(outFile) {
      const result = await stages.run("infer", () =>
        runSwapPath({
          videoFile: file,
          videoLabel: labels.video,
          video: info,
          audioFile: hasAudio ? file : undefined,
          outFile,
          transformOf: transforms,
          order: channelsOf(data.model),
          batchSize: config.INFERENCE_BATCH_SIZE,
          ops: deps.frameOps,
          mask: featherMask(SWAP_SIZE, params.blend),
          run: async (faces, swapped, count) => {
            const per = binding.fixedBatch ?? count;
            let seconds = 0;
            for (let at = 0; at < count; at += per) {
              const n = Math.min(per, count - at);
              // A fixed-batch model gets exactly its batch; a last short call is padded with the last face.
              const target = faces.subarray(at * SWAP_FLOATS, (at + per) * SWAP_FLOATS);
              if (n < per)
                for (let k = n; k < per; k++)
                  target.copyWithin(k * SWAP_FLOATS, (n - 1) * SWAP_FLOATS, n * SWAP_FLOATS);
              const sources = per === 1 ? source : repeat(source, per);
              const reply = await model.run({
                feeds: {
                  [binding.target]: { type: "float32", data: target, dims: [per, 3, SWAP_SIZE, SWAP_SIZE] },
                  [binding.source]: { type: "float32", data: sources, dims: [per, 512] },
                },
                into: { [binding.output]: swapped.subarray(at * SWAP_FLOATS, (at + per) * SWAP_FLOATS) },
              });
              seconds += reply.runSeconds;
            }
            return seconds;
          },
          cardLock: deps.inferenceLock,
          codecs: deps.codecs,
          clips: { cache: deps.clips, blob: video },
          lossless: config.VIDEO_LOSSLESS,
          signal,
          onProgress: (done) => progress.report("infer", done, Math.max(done, info.frames)),
        }),
      );
      const [start, end] = result.cardSpan ?? (stages.spans.infer as Span) ?? [Date.now(), Date.now()];
      await countInferenceRun(deps, data.jobKey, { start, end, runSeconds: result.busy.inference });
      for (const name of SWAP_STAGES) stages.timings[name] = Math.round(result.busy[name] * 1000) / 1000;
      return { units: result.frames };
    },
  };
}

/** `per` copies of the source identity, in shared memory. */
function repeat(source: Float32Array, per: number): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(per * source.length * 4));
  for (let k = 0; k < per; k++) out.set(source, k * source.length);
  return out;
}
