// ONNX protobuf bytes -> OnnxModel.
//
// Two kinds of failure, told apart by message: "not a valid ONNX model" (truncated, garbage, or
// self-contradictory bytes) and "uses X, which Retort does not support" (well-formed ONNX that is out
// of scope: string tensors, sequence types, ...). Neither ever returns partial data. External data is
// read through a reader the caller gives (readOnnxFile gives one over the file's folder).
import { checkLocation, type ExternalDataReader } from './external.ts';
import type {
  OnnxAttribute,
  OnnxDataTypeCode,
  OnnxDim,
  OnnxExternalRef,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
} from './model.ts';
import { OnnxDataType } from './model.ts';
import {
  AttributeType,
  DATA_LOCATION_EXTERNAL,
  ModelProto,
  type AttributeMsg,
  type GraphMsg,
  type Int64,
  type ModelMsg,
  type NodeMsg,
  type TensorMsg,
  type ValueInfoMsg,
} from './schema.ts';
import { ELEMENT, isOnnxDataType, tensorByteLength } from './tensor.ts';

export { tensorToTypedArray, typedArrayToTensor } from './tensor.ts';

function invalid(reason: string, cause?: unknown): Error {
  return new Error(`not a valid ONNX model: ${reason}`, { cause });
}

function unsupported(what: string, fix: string): Error {
  return new Error(`ONNX model uses ${what}, which Retort does not support; ${fix}`);
}

export interface DecodeOptions {
  /**
   * Tensors kept in external data files: a reader loads their bytes; 'reference' leaves them in
   * the file (rawData empty, `external` set) for reading or editing the graph alone. Absent: such
   * tensors are refused, since bytes alone do not say where the file is.
   */
  externalData?: ExternalDataReader | 'reference';
}

/**
 * Parse ONNX protobuf bytes. Tensor rawData taken from raw_data are views into `bytes` (no copy), so
 * keep `bytes` unchanged while the model is in use.
 *
 * A file cut exactly between two top-level fields can look complete to any protobuf reader; we catch
 * it whenever it drops the graph or all opset imports. Files written by encodeModel keep the graph
 * last, so every truncation of them is caught.
 */
export function decodeModel(bytes: Uint8Array, o: DecodeOptions = {}): OnnxModel {
  // A plain Uint8Array (not a Buffer) makes protobufjs hand out subarray views, never copies.
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let msg: ModelMsg;
  try {
    msg = ModelProto.decode(plain) as ModelMsg;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalid(`protobuf decoding failed (${why}); the file is truncated, corrupt, or not ONNX`, err);
  }
  return modelFrom(msg, o.externalData);
}

type External = DecodeOptions['externalData'];

const has = (m: object, field: string): boolean => Object.hasOwn(m, field);

function modelFrom(m: ModelMsg, ext: External): OnnxModel {
  if (!has(m, 'ir_version')) throw invalid('ModelProto has no ir_version (field 1)');
  if (!m.graph) throw invalid('ModelProto has no graph (field 7); the file may be truncated');
  if (!m.opset_import?.length) throw invalid('ModelProto has no opset_import (field 8); the file may be truncated');
  const model: OnnxModel = {
    irVersion: exactNumber(m.ir_version, 'ir_version'),
    opsetImports: m.opset_import.map((o) => ({
      domain: o.domain ?? '',
      version: exactNumber(o.version, `opset_import '${o.domain ?? ''}'`),
    })),
    graph: graphFrom(m.graph, ext),
  };
  if (has(m, 'producer_name')) model.producerName = m.producer_name;
  if (has(m, 'producer_version')) model.producerVersion = m.producer_version;
  if (m.metadata_props?.length) {
    model.metadata = Object.fromEntries(m.metadata_props.map((e) => [e.key ?? '', e.value ?? '']));
  }
  return model;
}

function graphFrom(g: GraphMsg, ext: External): OnnxGraph {
  const name = g.name ?? '';
  const graph: OnnxGraph = {
    name,
    nodes: (g.node ?? []).map((n) => nodeFrom(n, name, ext)),
    initializers: (g.initializer ?? []).map((t) => tensorFrom(t, ext)),
    inputs: (g.input ?? []).map(valueInfoFrom),
    outputs: (g.output ?? []).map(valueInfoFrom),
  };
  if (g.value_info?.length) graph.valueInfo = g.value_info.map(valueInfoFrom);
  return graph;
}

function nodeFrom(n: NodeMsg, graphName: string, ext: External): OnnxNode {
  const where = `graph '${graphName}' node '${n.name || n.op_type}'`;
  const node: OnnxNode = {
    opType: n.op_type ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attributes: (n.attribute ?? []).map((a) => attributeFrom(a, `${where} attribute '${a.name}'`, ext)),
  };
  if (has(n, 'name')) node.name = n.name;
  if (has(n, 'domain')) node.domain = n.domain;
  return node;
}

const utf8 = new TextDecoder();

function attributeFrom(a: AttributeMsg, where: string, ext: External): OnnxAttribute {
  const name = a.name ?? '';
  switch (a.type) {
    case AttributeType.FLOAT:
      return { name, type: 'float', value: a.f ?? 0 };
    case AttributeType.INT:
      return { name, type: 'int', value: lossyNumber(a.i ?? 0) };
    case AttributeType.STRING:
      return { name, type: 'string', value: utf8.decode(a.s) };
    case AttributeType.TENSOR:
      if (!a.t) throw invalid(`${where} is of type TENSOR but holds no tensor`);
      return { name, type: 'tensor', value: tensorFrom(a.t, ext) };
    case AttributeType.GRAPH:
      if (!a.g) throw invalid(`${where} is of type GRAPH but holds no graph`);
      return { name, type: 'graph', value: graphFrom(a.g, ext) };
    case AttributeType.FLOATS:
      return { name, type: 'floats', value: a.floats ?? [] };
    case AttributeType.INTS:
      return { name, type: 'ints', value: (a.ints ?? []).map(lossyNumber) };
    case AttributeType.STRINGS:
      return { name, type: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    default:
      throw unsupported(
        `${where} of AttributeType ${a.type}`,
        'only float, int, string, tensor, graph, floats, ints and strings attributes are read',
      );
  }
}

function valueInfoFrom(v: ValueInfoMsg): OnnxValueInfo {
  const name = v.name ?? '';
  const kind = v.type?.value;
  if (kind !== 'tensor_type' || !v.type?.tensor_type) {
    throw unsupported(
      `value '${name}' of ${kind ?? 'no recorded'} type`,
      'graph inputs, outputs and value_info must be tensors',
    );
  }
  const tt = v.type.tensor_type;
  const elemType = dataTypeFrom(tt.elem_type ?? 0, `value '${name}'`);
  let shape: OnnxDim[] | null = null;
  if (tt.shape) {
    shape = (tt.shape.dim ?? []).map((d) =>
      d.value === 'dim_value'
        ? exactNumber(d.dim_value, `value '${name}' shape`)
        : d.value === 'dim_param'
          ? (d.dim_param ?? '')
          : null,
    );
  }
  return { name, elemType, shape };
}

function dataTypeFrom(code: number, where: string): OnnxDataTypeCode {
  if (code === 0) throw invalid(`${where} has data type UNDEFINED (0)`);
  if (!isOnnxDataType(code)) {
    throw unsupported(
      `${where} of TensorProto.DataType ${code}`,
      `supported types: ${Object.values(ELEMENT)
        .map((e) => e.name)
        .join(', ')}`,
    );
  }
  return code;
}

function tensorFrom(t: TensorMsg, ext: External): OnnxTensor {
  const name = t.name ?? '';
  const where = `tensor '${name}'`;
  if (t.segment) throw unsupported(`${where} stored in segments`, 're-save the model with whole tensors');
  const dataType = dataTypeFrom(t.data_type ?? 0, where);
  if (dataType === OnnxDataType.STRING) throw unsupported(`${where} of type STRING`, 'only numeric tensors are read');
  const dims = (t.dims ?? []).map((d) => exactNumber(d, `${where} dims`));
  if (dims.some((d) => d < 0)) throw invalid(`${where} has negative dims [${dims}]`);
  const expected = tensorByteLength({ name, dataType, dims });
  if (t.data_location === DATA_LOCATION_EXTERNAL || t.external_data?.length) {
    const ref = externalRefFrom(t, dims, expected, where);
    if (ext === 'reference') return { name, dataType, dims, rawData: new Uint8Array(0), external: ref };
    if (!ext)
      throw new Error(
        `${where} keeps its data in an external file ('${ref.location}'), and bytes alone do not say where that file is; ` +
          'read the model with readOnnxFile(path), which finds the file beside the .onnx',
      );
    const rawData = ext(ref, name);
    if (rawData.byteLength !== ref.length)
      throw invalid(
        `${where}: '${ref.location}' gave ${rawData.byteLength} bytes, the reference asks for ${ref.length}`,
      );
    return { name, dataType, dims, rawData };
  }
  const tensor: OnnxTensor = { name, dataType, dims, rawData: rawDataFrom(t, dataType, where) };
  if (tensor.rawData.byteLength !== expected) {
    throw invalid(
      `${where} holds ${tensor.rawData.byteLength} bytes of data but dims [${dims}] of ${ELEMENT[dataType].name} need ${expected}`,
    );
  }
  return tensor;
}

/** TensorProto.external_data: location (required), offset (default 0), length (default: what the dims need). */
function externalRefFrom(t: TensorMsg, dims: number[], expected: number, where: string): OnnxExternalRef {
  const entries = new Map((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw invalid(`${where} is marked as external data but names no location`);
  checkLocation(location, where);
  const count = (key: string, fallback: number): number => {
    const v = entries.get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
      throw invalid(`${where}: external data ${key} '${v}' is not a byte count`);
    return n;
  };
  const ref = { location, offset: count('offset', 0), length: count('length', expected) };
  if (ref.length !== expected)
    throw invalid(`${where}: its external data is ${ref.length} bytes long but dims [${dims}] need ${expected}`);
  return ref;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// Which typed array each data type is packed into when it arrives in int32_data (per onnx.proto:
// "int32, uint8, int8, uint16, int16, bool, and float16", bfloat16 as its bit pattern too).
const FROM_INT32_DATA: Partial<Record<OnnxDataTypeCode, { from(a: number[]): ArrayBufferView }>> = {
  [OnnxDataType.INT32]: Int32Array,
  [OnnxDataType.INT16]: Int16Array,
  [OnnxDataType.INT8]: Int8Array,
  [OnnxDataType.UINT16]: Uint16Array,
  [OnnxDataType.FLOAT16]: Uint16Array,
  [OnnxDataType.BFLOAT16]: Uint16Array,
  [OnnxDataType.UINT8]: Uint8Array,
  [OnnxDataType.BOOL]: Uint8Array,
};

/** The tensor's elements as little-endian bytes, from whichever field the writer chose. */
function rawDataFrom(t: TensorMsg, dataType: OnnxDataTypeCode, where: string): Uint8Array {
  if (has(t, 'raw_data') && t.raw_data) return t.raw_data;
  const wrongField = (field: string) =>
    invalid(`${where} of type ${ELEMENT[dataType].name} stores its data in ${field}`);
  if (t.float_data?.length) {
    if (dataType !== OnnxDataType.FLOAT) throw wrongField('float_data');
    return bytesOf(Float32Array.from(t.float_data));
  }
  if (t.double_data?.length) {
    if (dataType !== OnnxDataType.DOUBLE) throw wrongField('double_data');
    return bytesOf(Float64Array.from(t.double_data));
  }
  if (t.int32_data?.length) {
    const array = FROM_INT32_DATA[dataType];
    if (!array) throw wrongField('int32_data');
    return bytesOf(array.from(t.int32_data));
  }
  if (t.int64_data?.length) {
    if (dataType !== OnnxDataType.INT64) throw wrongField('int64_data');
    return bytesOf(BigInt64Array.from(t.int64_data, (v) => BigInt.asIntN(64, int64ToBigInt(v))));
  }
  if (t.uint64_data?.length) {
    if (dataType === OnnxDataType.UINT32)
      return bytesOf(Uint32Array.from(t.uint64_data, (v) => Number(BigInt.asUintN(32, int64ToBigInt(v)))));
    if (dataType === OnnxDataType.UINT64)
      return bytesOf(BigUint64Array.from(t.uint64_data, (v) => BigInt.asUintN(64, int64ToBigInt(v))));
    throw wrongField('uint64_data');
  }
  return new Uint8Array(0); // no data at all: only valid for an empty tensor, checked by the caller
}

/** protobufjs reads int64 as a Long (two 32-bit words) when the `long` package is present, else as a number. */
function int64ToBigInt(v: Int64): bigint {
  if (typeof v === 'number') return BigInt(v);
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

/** For counts and sizes, where a rounded value would be wrong. */
function exactNumber(v: Int64 | undefined, where: string): number {
  const n = Number(BigInt.asIntN(64, int64ToBigInt(v ?? 0)));
  if (!Number.isSafeInteger(n)) throw invalid(`${where} is ${n}, beyond 2^53`);
  return n;
}

/** For int attributes, where huge values are sentinels (INT64_MAX = "to the end") and rounding is harmless. */
function lossyNumber(v: Int64): number {
  return Number(BigInt.asIntN(64, int64ToBigInt(v)));
}
