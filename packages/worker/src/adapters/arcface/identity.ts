/**
 * A source identity (docs/architecture.md#face-swap): the face in the source image, aligned to
 * ArcFace's 112 template and run through the recognizer, as a unit-length embedding. With
 * several faces the largest is used; with none the item fails.
 */
import { BadInputError } from "../../errors.ts";
import type { Face } from "../../face/blazeface.ts";
import type { SwapOps } from "../inswapper/warp-ops.ts";
import { alignToTemplate } from "./alignment.ts";
import { ARCFACE_SIZE, arcfaceInput, normalizeEmbedding } from "./signature.ts";
import type { SourceImage } from "./source-image.ts";

export interface Identity {
  /** The recognizer's embedding scaled to unit length (insightface's normed_embedding). */
  embedding: number[];
  /** Faces found in the image; the largest was used. */
  faces: number;
  /** The face used: its box [x1, y1, x2, y2] in image pixels. */
  box: [number, number, number, number];
}

const area = (f: Face) => (f.x2 - f.x1) * (f.y2 - f.y1);

export async function computeIdentity(o: {
  image: SourceImage;
  label: string;
  /** Faces in the image (the track's detector). */
  detect(image: SourceImage): Promise<Face[]>;
  ops: SwapOps;
  /** The recognizer on one [1,3,112,112] input -> [512]. */
  embed(input: Float32Array): Promise<Float32Array>;
}): Promise<Identity> {
  const faces = await o.detect(o.image);
  if (faces.length === 0) throw new BadInputError(`no face was found in ${o.label} (the source face image)`);
  const face = faces.reduce((a, b) => (area(b) > area(a) ? b : a));
  const crop = new Float32Array(3 * ARCFACE_SIZE * ARCFACE_SIZE);
  const format = { width: o.image.width, height: o.image.height, colorMatrix: "bt601" as const };
  await o.ops.crop(o.image.yuv, format, alignToTemplate(face.keypoints, ARCFACE_SIZE), ARCFACE_SIZE, "rgb", crop);
  const embedding = normalizeEmbedding(await o.embed(arcfaceInput(crop)));
  return { embedding: [...embedding], faces: faces.length, box: [face.x1, face.y1, face.x2, face.y2] };
}
