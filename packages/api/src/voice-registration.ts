/**
 * What registering a Piper voice checks (docs/architecture.md#adapters): the config is a blob
 * of the tenant's, a Piper `.onnx.json`, and fits the model's ONNX signature (a multi-speaker
 * config needs a model with `sid`, and the other way round). Other adapters take no config.
 */
import { type AdapterName, bindPiperSignature, getObjectStream, objectKeys, readVoiceConfig } from "@mediaq/shared";
import type { ApiDeps } from "./deps.ts";
import { readOnnxSignature } from "./onnx-signature.ts";
import { badRequest } from "./problem.ts";

/** A config larger than this is no voice config (Piper's are a few KiB; a phoneme map of thousands fits). */
const MAX_CONFIG_BYTES = 4 << 20;

export async function checkModelConfig(
  deps: Pick<ApiDeps, "s3" | "ledger" | "config">,
  tenant: string,
  o: { adapter: AdapterName; model: string; config?: string },
): Promise<void> {
  if (o.adapter !== "piper") {
    if (o.config)
      throw badRequest("unexpected-config", `The ${o.adapter} adapter takes no config; only piper voices do.`);
    return;
  }
  if (!o.config)
    throw badRequest(
      "missing-config",
      "A piper voice is registered with its .onnx.json config: upload the config as a blob first, " +
        "then POST /v1/models?tag=<tag>&adapter=piper&config=<sha256 of the config blob>.",
    );
  const [granted] = await deps.ledger.assets.hasBlobs(tenant, [o.config]);
  if (!granted)
    throw badRequest("unknown-config", `No blob ${o.config} for this API key: upload the voice's .onnx.json first.`, {
      config: o.config,
    });
  const bucket = deps.config.S3_BUCKET;
  const configBytes = await readAll(await getObjectStream(deps.s3, bucket, objectKeys.blob(o.config)));
  const read = configBytes ? readVoiceConfig(configBytes, `config ${o.config.slice(0, 12)}`) : undefined;
  if (!read?.ok)
    throw badRequest("invalid-config", read?.message ?? `config ${o.config} is over ${MAX_CONFIG_BYTES} bytes`, {
      config: o.config,
    });
  let signature: Awaited<ReturnType<typeof readOnnxSignature>>;
  try {
    signature = await readOnnxSignature(await getObjectStream(deps.s3, bucket, objectKeys.blob(o.model)));
  } catch (err) {
    throw badRequest("invalid-model", `The model is not an ONNX file: ${(err as Error).message}`);
  }
  const bound = bindPiperSignature(signature, read.config, "The model");
  if (!bound.ok) throw badRequest("config-does-not-fit", bound.message, { config: o.config });
}

/** A small object's bytes, or undefined past MAX_CONFIG_BYTES. */
async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_CONFIG_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
