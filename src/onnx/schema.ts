// The subset of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto) that Retort reads and writes,
// loaded with protobufjs's reflection API.
//
// Why a hand-written schema instead of the onnx-proto package: it is smaller, ESM-friendly, lists only
// the fields we use, and ONNX field numbers are a frozen part of the spec, so copying them is safe.
//
// Every field number below was checked against onnx.proto. Fields not declared here (doc_string,
// training_info, functions, sparse initializers, ...) are skipped by protobufjs on read.
// Field names keep onnx.proto's snake_case (keepCase) so this file reads like the spec.
import protobuf from 'protobufjs';

const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
    SPARSE_TENSOR = 11; SPARSE_TENSORS = 12; TYPE_PROTO = 13; TYPE_PROTOS = 14;
  }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string domain = 7;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  message Segment {
    optional int64 begin = 1;
    optional int64 end = 2;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
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
    // Declared as bytes (same wire type as their messages) only so they can be refused by name.
    bytes sequence_type = 4;
    bytes map_type = 5;
    bytes opaque_type = 7;
    bytes sparse_tensor_type = 8;
    bytes optional_type = 9;
  }
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

const root = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root;

export const ModelProto = root.lookupType('onnx.ModelProto');
export const GraphProto = root.lookupType('onnx.GraphProto');
export const TensorProto = root.lookupType('onnx.TensorProto');

/** AttributeProto.AttributeType codes. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

/** TensorProto.DataLocation.EXTERNAL. */
export const DATA_LOCATION_EXTERNAL = 1;

// ---- Wire-shaped TypeScript views of the messages above (what protobufjs encodes from / decodes to).

/** An int64 as protobufjs gives it: a number when writing, a Long (low/high words) when reading. */
export type Int64 = number | { low: number; high: number; unsigned?: boolean };

export interface StringStringEntryMsg {
  key?: string;
  value?: string;
}
export interface OperatorSetIdMsg {
  domain?: string;
  version?: Int64;
}
export interface DimensionMsg {
  dim_value?: Int64;
  dim_param?: string;
  value?: 'dim_value' | 'dim_param';
}
export interface TypeMsg {
  tensor_type?: { elem_type?: number; shape?: { dim?: DimensionMsg[] } };
  value?: 'tensor_type' | 'sequence_type' | 'map_type' | 'opaque_type' | 'sparse_tensor_type' | 'optional_type';
}
export interface ValueInfoMsg {
  name?: string;
  type?: TypeMsg;
}
export interface TensorMsg {
  dims?: Int64[];
  data_type?: number;
  segment?: { begin?: Int64; end?: Int64 };
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  raw_data?: Uint8Array;
  double_data?: number[];
  uint64_data?: Int64[];
  external_data?: StringStringEntryMsg[];
  data_location?: number;
}
export interface AttributeMsg {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorMsg;
  g?: GraphMsg;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
}
export interface NodeMsg {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeMsg[];
}
export interface GraphMsg {
  node?: NodeMsg[];
  name?: string;
  initializer?: TensorMsg[];
  input?: ValueInfoMsg[];
  output?: ValueInfoMsg[];
  value_info?: ValueInfoMsg[];
}
export interface ModelMsg {
  ir_version?: Int64;
  producer_name?: string;
  producer_version?: string;
  graph?: GraphMsg;
  opset_import?: OperatorSetIdMsg[];
  metadata_props?: StringStringEntryMsg[];
}
