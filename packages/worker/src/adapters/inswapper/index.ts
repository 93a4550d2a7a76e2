import { faceTrackParamsSchema } from "@mediaq/shared";
import { makePoster } from "../../media/poster.ts";
import type { Adapter } from "../adapter.ts";
import { awaitSourceIdentity, prepareInswapper } from "./job.ts";
import { bindInswapper } from "./signature.ts";

/** Face swap: the face of a source image on every face of a video (docs/architecture.md#face-swap). */
export const inswapperAdapter: Adapter<"inswapper"> = {
  name: "inswapper",
  bind: bindInswapper,
  output: () => ({
    kind: "video",
    file: "output.mp4",
    extension: ".mp4",
    contentType: "video/mp4",
    picture: makePoster,
  }),
  // The same track as lip-sync items on the video, with the keypoints the alignment needs.
  faceTrack: (data, params) => ({
    video: data.inputs.video as string,
    params: faceTrackParamsSchema.parse(params),
    keypoints: true,
  }),
  awaitInputs: awaitSourceIdentity,
  prepare: prepareInswapper,
};
