/**
 * What registering a model checks, per adapter: the ONNX file's graph fits the adapter's
 * signature where it has one, read once from the stored blob.
 * - piper (docs/architecture.md#adapters): the config is a blob of the tenant's, a Piper
 *   `.onnx.json`, and fits the model's signature (a multi-speaker config needs a model with
 *   `sid`, and the other way round).
 * - inswapper, arcface (docs/architecture.md#face-swap): the graph fits shared's
 *   matchInswapper / matchArcFace, which the worker checks again when it binds the session;
 *   a model that does not fit is refused with both signatures in the message.
 * Other adapters take no config.
 */
import {
  type AdapterName,
  bindPiperSignature,
  getObjectStream,
  matchArcFace,
  matchInswapper,
  objectKeys,
  readVoiceConfig,
} from "@mediaq/shared";
import type { ApiDeps } from "../deps.ts";
import { readOnnxSignature } from "../onnx-signature.ts";
import { badRequest } from "../problem.ts";

type Deps = Pick<ApiDeps, "s3" | "ledger" | "config">;

interface Registration {
  adapter: AdapterName;
  /** The model's blob (sha256). */
  model: string;
  /** The config's blob (sha256), piper only. */
  config?: string;
}

/** A config larger than this is no voice config (Piper's are a few KiB; a phoneme map of thousands fits). */
const MAX_CONFIG_BYTES = 4 << 20;

export async function checkModel(deps: Deps, tenant: string, o: Registration): Promise<void> {
  if (o.adapter === "piper") return checkVoice(deps, tenant, o.model, o.config);
  if (o.config)
    throw badRequest("unexpected-config", `The ${o.adapter} adapter takes no config; only piper voices do.`);
  if (o.adapter === "inswapper" || o.adapter === "arcface") {
    const signature = await readModelSignature(deps, o.model);
    const match = (o.adapter === "inswapper" ? matchInswapper : matchArcFace)(signature, "The model");
    if (!match.ok) throw badRequest("model-does-not-fit", match.message, { adapter: o.adapter });
  }
}

async function checkVoice(deps: Deps, tenant: string, model: string, config: string | undefined): Promise<void> {
  if (!config)
    throw badRequest(
      "missing-config",
      "A piper voice is registered with its .onnx.json config: upload the config as a blob first, " +
        "then POST /v1/models?tag=<tag>&adapter=piper&config=<sha256 of the config blob>.",
    );
  const [granted] = await deps.ledger.assets.hasBlobs(tenant, [config]);
  if (!granted)
    throw badRequest("unknown-config", `No blob ${config} for this API key: upload the voice's .onnx.json first.`, {
      config,
    });
  const configBytes = await readAll(await getObjectStream(deps.s3, deps.config.S3_BUCKET, objectKeys.blob(config)));
  const read = configBytes ? readVoiceConfig(configBytes, `config ${config.slice(0, 12)}`) : undefined;
  if (!read?.ok)
    throw badRequest("invalid-config", read?.message ?? `config ${config} is over ${MAX_CONFIG_BYTES} bytes`, {
      config,
    });
  const bound = bindPiperSignature(await readModelSignature(deps, model), read.config, "The model");
  if (!bound.ok) throw badRequest("config-does-not-fit", bound.message, { config });
}

/** The model blob's ONNX inputs and outputs; invalid-model when it is no ONNX file. */
async function readModelSignature(deps: Deps, model: string): Promise<Awaited<ReturnType<typeof readOnnxSignature>>> {
  try {
    return await readOnnxSignature(await getObjectStream(deps.s3, deps.config.S3_BUCKET, objectKeys.blob(model)));
  } catch (err) {
    throw badRequest("invalid-model", `The model is not an ONNX file: ${(err as Error).message}`);
  }
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
