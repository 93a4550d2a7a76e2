import protobuf from "protobufjs";

/**
 * The part of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that the
 * models built in code need (the demo model, test models, the frame operations). Field numbers are ONNX's; fields not listed are simply never written.
 */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
}

message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional bytes s = 4;
  optional int64 i = 3;
  repeated int64 ints = 8;
  optional int32 type = 20;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
`;

export const onnxRoot = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
export const ModelProto = onnxRoot.lookupType("onnx.ModelProto");

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7 } as const;
/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

// Builders for the plain objects protobufjs encodes (graph nodes, attributes, tensors).

export const node = (op_type: string, input: string[], output: string, attribute: object[] = []) => ({
  op_type,
  input,
  output: [output],
  name: output,
  attribute,
});
export const intAttr = (name: string, i: number) => ({ name, i, type: AttributeType.INT });
export const intsAttr = (name: string, ints: number[]) => ({ name, ints, type: AttributeType.INTS });
export const stringAttr = (name: string, s: string) => ({ name, s: Buffer.from(s), type: AttributeType.STRING });

export function floatTensor(name: string, dims: number[], values: Float32Array | number[]) {
  const data = Float32Array.from(values);
  return { name, dims, data_type: DataType.FLOAT, raw_data: Buffer.from(data.buffer) };
}

export function int64Tensor(name: string, values: number[]) {
  const data = BigInt64Array.from(values.map(BigInt));
  return { name, dims: [values.length], data_type: DataType.INT64, raw_data: Buffer.from(data.buffer) };
}

/** A tensor's type; a string dimension is symbolic (e.g. "batch"). */
export function tensorType(dims: (number | string)[], elem_type: number = DataType.FLOAT) {
  return {
    tensor_type: {
      elem_type,
      shape: { dim: dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) },
    },
  };
}

/**
 * Wraps a graph in a ModelProto (opset 13 unless `opset` says otherwise, e.g. 16 for
 * GridSample) and serializes it (checked against the schema).
 */
export function encodeModel(graph: object, meta: { producer: string; doc: string; opset?: number }): Uint8Array {
  const model = {
    ir_version: 8,
    producer_name: meta.producer,
    producer_version: "1",
    model_version: 1,
    doc_string: meta.doc,
    opset_import: [{ domain: "", version: meta.opset ?? 13 }],
    graph,
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`model does not fit the ONNX schema: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
