import { POSTER_FILE } from "./jobs.ts";

/** Where things live in S3. The bucket stays private; people get presigned links. */
export const objectKeys = {
  blob: (sha256: string) => `blobs/sha256/${sha256}`,
  output: (jobKey: string, file: string) => `outputs/${jobKey}/${file}`,
  /** One attempt's output: attempts never overwrite each other, so a result names its own bytes. */
  attemptOutput: (jobKey: string, attemptId: string, file: string) => `outputs/${jobKey}/${attemptId}/${file}`,
  /** The poster thumbnail beside an output (`<attempt>/poster.jpg`), swept and kept with it. */
  posterBeside: (outputKey: string) => `${outputKey.slice(0, outputKey.lastIndexOf("/") + 1)}${POSTER_FILE}`,
  /** A long item's segment piece, in an attempt directory of the item (docs/architecture.md#segments). */
  segmentPiece: (jobKey: string, attemptId: string, range: string) =>
    objectKeys.attemptOutput(jobKey, attemptId, `segment-${range}.mp4`),
  /** Whether an output object is a segment piece (not a result of its own). */
  isSegmentPiece: (key: string) => /\/segment-\d+-\d+\.mp4$/.test(key),
  /** Every output object of a job key (its attempts). */
  jobOutputsPrefix: (jobKey: string) => `outputs/${jobKey}/`,
  outputsPrefix: "outputs/",
  track: (trackKey: string) => `tracks/${trackKey}/track.json`,
  packagePrefix: (packageId: string) => `packages/${packageId}/`,
  packageObject: (packageId: string, name: string) => `packages/${packageId}/${name}`,
  snapshot: (id: string) => `snapshots/${id}.json.gz`,
  snapshotsPrefix: "snapshots/",
};
