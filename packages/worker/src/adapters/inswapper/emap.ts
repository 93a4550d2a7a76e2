import fs from "node:fs/promises";
import protobuf from "protobufjs";
import { BadInputError } from "../../errors.ts";
import { DataType, onnxRoot } from "../../onnx-schema.ts";
import { EMBEDDING_LENGTH } from "../arcface/signature.ts";

const TensorProto = onnxRoot.lookupType("onnx.TensorProto");
/** Field numbers of onnx.proto: ModelProto.graph, GraphProto.initializer. */
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const LENGTH_DELIMITED = 2;

/** Reads `length` bytes at `offset` of a model (in memory or in a file). */
type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * The inswapper's emap: the graph's last initializer, a 512x512 float matrix that maps a
 * normalized ArcFace embedding to the swapper's `source` input (insightface reads it the same
 * way). The model is walked field by field, reading only field headers until the tensor
 * itself, so a 500 MB swapper is never held in memory.
 */
export async function readEmap(read: ReadAt, size: number, modelLabel: string): Promise<Float32Array> {
  try {
    return await emapAt(read, size, modelLabel);
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`${modelLabel} is not a valid ONNX file: ${(err as Error).message}`);
  }
}

async function emapAt(read: ReadAt, size: number, modelLabel: string): Promise<Float32Array> {
  const graph = await lastField(read, 0, size, MODEL_GRAPH);
  const last = graph && (await lastField(read, graph.start, graph.end, GRAPH_INITIALIZER));
  const fail = (why: string) =>
    new BadInputError(
      `${modelLabel} does not fit the inswapper adapter: ${why} (it needs the 512x512 emap as the graph's last initializer)`,
    );
  if (!last) throw fail("its graph has no initializer");
  const tensor = TensorProto.toObject(TensorProto.decode(await read(last.start, last.end - last.start)), {
    longs: Number,
  }) as { name?: string; dims?: number[]; data_type?: number; raw_data?: Uint8Array; float_data?: number[] };
  const dims = tensor.dims ?? [];
  if (dims.length !== 2 || dims[0] !== EMBEDDING_LENGTH || dims[1] !== EMBEDDING_LENGTH)
    throw fail(`its last initializer ${tensor.name ?? ""} is [${dims.join(",")}]`);
  if (tensor.data_type !== DataType.FLOAT) throw fail(`its last initializer ${tensor.name ?? ""} is not float32`);
  const count = EMBEDDING_LENGTH * EMBEDDING_LENGTH;
  if (tensor.raw_data && tensor.raw_data.length === count * 4) {
    // Copied into an aligned buffer; raw_data is little-endian, as is every platform Node runs on.
    const bytes = new Uint8Array(count * 4);
    bytes.set(tensor.raw_data);
    return new Float32Array(bytes.buffer);
  }
  if (tensor.float_data && tensor.float_data.length === count) return Float32Array.from(tensor.float_data);
  throw fail(`its last initializer ${tensor.name ?? ""} holds no inline data (external data is not supported)`);
}

/** The emap of a model in memory. */
export const emapOfBytes = (bytes: Uint8Array, label: string) =>
  readEmap(async (o, n) => bytes.subarray(o, o + n), bytes.length, label);

/** The emap of a model file. */
export async function emapOfFile(file: string, label: string): Promise<Float32Array> {
  const handle = await fs.open(file, "r");
  try {
    const { size } = await handle.stat();
    return await readEmap(
      async (offset, length) => {
        const buf = new Uint8Array(Math.min(length, size - offset));
        await handle.read(buf, 0, buf.length, offset);
        return buf;
      },
      size,
      label,
    );
  } finally {
    await handle.close();
  }
}

/** The last occurrence of a length-delimited field in [start, end): where its payload lies. */
async function lastField(
  read: ReadAt,
  start: number,
  end: number,
  field: number,
): Promise<{ start: number; end: number } | undefined> {
  let found: { start: number; end: number } | undefined;
  let at = start;
  while (at < end) {
    // A header is a tag varint and, for length-delimited fields, a length varint: 20 bytes at most.
    const head = await read(at, Math.min(20, end - at));
    const reader = protobuf.Reader.create(head);
    const tag = reader.uint32();
    const wire = tag & 7;
    let next: number;
    if (wire === LENGTH_DELIMITED) {
      const length = reader.uint32();
      const payload = at + reader.pos;
      next = payload + length;
      if (tag >>> 3 === field) found = { start: payload, end: next };
    } else {
      reader.skipType(wire);
      next = at + reader.pos;
    }
    if (next > end || next <= at) throw new Error(`a field runs past its message's end at byte ${at}`);
    at = next;
  }
  return found;
}

/**
 * The swapper's `source`: normalize(embedding) @ emap (FaceFusion's prepare_source_embedding
 * for inswapper; emap is [512,512], row-major).
 */
export function swapperSource(embedding: readonly number[], emap: Float32Array): Float32Array {
  const n = embedding.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const e = embedding[i] as number;
    if (e === 0) continue;
    for (let j = 0; j < n; j++) out[j] = (out[j] as number) + e * (emap[i * n + j] as number);
  }
  return out;
}
