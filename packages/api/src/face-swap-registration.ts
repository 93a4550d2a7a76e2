/**
 * What registering a face-swap model checks (docs/architecture.md#face-swap): the ONNX file's
 * graph fits the adapter's signature (shared's matchInswapper / matchArcFace, which the worker
 * checks again when it binds the session); a model that does not fit is refused with both
 * signatures in the message.
 */
import { type AdapterName, getObjectStream, matchArcFace, matchInswapper, objectKeys } from "@mediaq/shared";
import type { ApiDeps } from "./deps.ts";
import { readOnnxSignature } from "./onnx-signature.ts";
import { badRequest } from "./problem.ts";

export async function checkFaceSwapModel(
  deps: Pick<ApiDeps, "s3" | "config">,
  o: { adapter: AdapterName; model: string },
): Promise<void> {
  if (o.adapter !== "inswapper" && o.adapter !== "arcface") return;
  let signature: Awaited<ReturnType<typeof readOnnxSignature>>;
  try {
    signature = await readOnnxSignature(
      await getObjectStream(deps.s3, deps.config.S3_BUCKET, objectKeys.blob(o.model)),
    );
  } catch (err) {
    throw badRequest("invalid-model", `The model is not an ONNX file: ${(err as Error).message}`);
  }
  const match = (o.adapter === "inswapper" ? matchInswapper : matchArcFace)(signature, "The model");
  if (!match.ok) throw badRequest("model-does-not-fit", match.message, { adapter: o.adapter });
}
