// A plain-data view of the parts of ONNX's ModelProto that Retort reads and writes.
// Field names follow onnx.proto so the mapping to the wire format stays obvious.

/** ONNX TensorProto.DataType codes. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** A constant tensor (initializer or attribute value). Data is kept as raw little-endian bytes. */
export interface OnnxTensor {
  name: string;
  dataType: OnnxDataTypeCode;
  dims: number[];
  /** Little-endian element bytes, exactly prod(dims) * elementSize long (empty when `external` is set). */
  rawData: Uint8Array;
  /**
   * The bytes stay in an external data file (decoded with externalData: 'reference'); encoding writes
   * the same reference back, so a graph can be edited without reading its weights.
   */
  external?: OnnxExternalRef;
}

/** Where a tensor's bytes sit outside the .onnx file (TensorProto.external_data). */
export interface OnnxExternalRef {
  /** The data file, relative to the .onnx file's folder. */
  location: string;
  offset: number;
  length: number;
}

/** One dimension of a value's shape: a fixed size, a named symbolic size, or unknown. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataTypeCode;
  /** null when the shape is not recorded at all. */
  shape: OnnxDim[] | null;
}

export type OnnxAttribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: OnnxTensor }
  | { name: string; type: 'graph'; value: OnnxGraph }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'strings'; value: string[] };

export interface OnnxNode {
  opType: string;
  /** '' (or undefined) is the default ai.onnx domain; 'com.microsoft' for contrib ops. */
  domain?: string;
  name?: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
}

export interface OnnxOpsetImport {
  domain: string;
  version: number;
}

export interface OnnxModel {
  irVersion: number;
  opsetImports: OnnxOpsetImport[];
  producerName?: string;
  producerVersion?: string;
  graph: OnnxGraph;
  metadata?: Record<string, string>;
}
