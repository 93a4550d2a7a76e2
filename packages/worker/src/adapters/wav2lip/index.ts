import { faceTrackParamsSchema } from "@mediaq/shared";
import { makePoster } from "../../media/poster.ts";
import type { Adapter } from "../adapter.ts";
import { bindWav2Lip } from "./binding.ts";
import { prepareWav2Lip } from "./job.ts";

/** Lip-sync: a video's face speaks an audio track (docs/architecture.md#adapters). */
export const wav2lipAdapter: Adapter<"wav2lip"> = {
  name: "wav2lip",
  bind: bindWav2Lip,
  output: () => ({
    kind: "video",
    file: "output.mp4",
    extension: ".mp4",
    contentType: "video/mp4",
    picture: makePoster,
  }),
  // An explicit box needs no detection.
  faceTrack: (data, params) =>
    params.box || !data.inputs.video
      ? undefined
      : { video: data.inputs.video, params: faceTrackParamsSchema.parse(params) },
  prepare: prepareWav2Lip,
};
