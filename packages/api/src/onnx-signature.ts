/**
 * An ONNX file's graph inputs and outputs (names, element types, shapes), read from a stream
 * of its bytes with protobuf's wire format: only the graph's input and output entries are
 * held, the rest (nodes, weights: most of the file) is skipped as it goes by. Field numbers
 * are onnx.proto's: ModelProto.graph 7; GraphProto.input 11, output 12; ValueInfoProto name
 * 1, type 2; TypeProto.tensor_type 1; Tensor elem_type 1, shape 2; Dimension dim_value 1, dim_param 2.
 */
import type { SignatureValue } from "@mediaq/shared";

/** TensorProto.DataType -> ONNX Runtime's type names. */
const ELEMENT_TYPES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
};

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

/** Reads the signature; throws an Error for bytes that are not a protobuf ModelProto. */
export async function readOnnxSignature(
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ inputs: SignatureValue[]; outputs: SignatureValue[] }> {
  const stream = new ByteStream(chunks[Symbol.asyncIterator]());
  const inputs: SignatureValue[] = [];
  const outputs: SignatureValue[] = [];
  while (!(await stream.atEnd())) {
    const { field, wire } = tagOf(await stream.varint());
    if (field === 7 && wire === LENGTH) {
      const end = stream.position + (await stream.varint());
      while (stream.position < end) {
        const inner = tagOf(await stream.varint());
        if ((inner.field === 11 || inner.field === 12) && inner.wire === LENGTH) {
          const value = valueInfo(new Bytes(await stream.bytes(await stream.varint())));
          (inner.field === 11 ? inputs : outputs).push(value);
        } else await skipField(stream, inner.wire);
      }
    } else await skipField(stream, wire);
  }
  return { inputs, outputs };
}

const tagOf = (tag: number) => ({ field: Math.floor(tag / 8), wire: tag % 8 });

async function skipField(s: ByteStream, wire: number): Promise<void> {
  if (wire === VARINT) await s.varint();
  else if (wire === FIXED64) await s.skip(8);
  else if (wire === LENGTH) await s.skip(await s.varint());
  else if (wire === FIXED32) await s.skip(4);
  else throw new Error(`not an ONNX model (protobuf wire type ${wire})`);
}

function valueInfo(b: Bytes): SignatureValue {
  const value: { name: string; type?: string; shape?: (number | string)[] } = { name: "" };
  b.fields((field, r) => {
    if (field === 1) value.name = r.string();
    else if (field === 2)
      r.message().fields((f, typeProto) => {
        if (f !== 1) return typeProto.skipLast();
        typeProto.message().fields((t, tensor) => {
          if (t === 1) value.type = ELEMENT_TYPES[tensor.varint()] ?? "other";
          else if (t === 2) {
            value.shape = [];
            tensor.message().fields((d, shape) => {
              if (d !== 1) return shape.skipLast();
              let dim: number | string = "?";
              shape.message().fields((k, dimension) => {
                if (k === 1) dim = dimension.varint();
                else if (k === 2) dim = dimension.string();
                else dimension.skipLast();
              });
              value.shape!.push(dim);
            });
          } else tensor.skipLast();
        });
      });
    else r.skipLast();
  });
  return value;
}

/** A protobuf message held in memory (a graph input's ValueInfoProto: a few dozen bytes). */
class Bytes {
  private pos = 0;
  private lastWire = 0;
  private readonly data: Uint8Array;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  /** Calls `fn` per field; `fn` reads the field's value with the reader (or skipLast). */
  fields(fn: (field: number, reader: Bytes) => void): void {
    while (this.pos < this.data.length) {
      const { field, wire } = tagOf(this.varint());
      this.lastWire = wire;
      fn(field, this);
    }
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.data.length) throw new Error("not an ONNX model (cut varint)");
      const byte = this.data[this.pos++]!;
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return result;
    }
  }

  private chunk(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.data.length) throw new Error("not an ONNX model (field past its message)");
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string = () => new TextDecoder().decode(this.chunk());
  message = () => new Bytes(this.chunk());

  skipLast(): void {
    if (this.lastWire === VARINT) this.varint();
    else if (this.lastWire === FIXED64) this.pos += 8;
    else if (this.lastWire === LENGTH) this.chunk();
    else if (this.lastWire === FIXED32) this.pos += 4;
    else throw new Error(`not an ONNX model (protobuf wire type ${this.lastWire})`);
  }
}

/** Bytes from a stream of chunks, read or skipped in order, counting the position. */
class ByteStream {
  position = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private readonly source: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterator<Uint8Array>) {
    this.source = source;
  }

  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      const next = await this.source.next();
      if (next.done) return false;
      this.chunk = next.value;
      this.at = 0;
    }
    return true;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  async byte(): Promise<number> {
    if (!(await this.fill())) throw new Error("not an ONNX model (ends mid-field)");
    this.position++;
    return this.chunk[this.at++]!;
  }

  async varint(): Promise<number> {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = await this.byte();
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return result;
      if (scale > 2 ** 63) throw new Error("not an ONNX model (varint too long)");
    }
  }

  async bytes(n: number): Promise<Uint8Array> {
    if (n > 1 << 20) throw new Error(`a graph input of ${n} bytes: not an ONNX model's signature`);
    const out = new Uint8Array(n);
    for (let got = 0; got < n; ) {
      if (!(await this.fill())) throw new Error("not an ONNX model (ends mid-field)");
      const take = Math.min(n - got, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), got);
      got += take;
      this.at += take;
      this.position += take;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0; ) {
      if (!(await this.fill())) throw new Error("not an ONNX model (ends mid-field)");
      const take = Math.min(left, this.chunk.length - this.at);
      this.at += take;
      this.position += take;
      left -= take;
    }
  }
}
