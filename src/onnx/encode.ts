// OnnxModel -> ONNX protobuf bytes.
import protobuf from 'protobufjs';
import type { ExternalDataLayout } from './external.ts';
import type {
  OnnxAttribute,
  OnnxExternalRef,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
} from './model.ts';
import {
  AttributeType,
  DATA_LOCATION_EXTERNAL,
  GraphProto,
  ModelProto,
  TensorProto,
  type AttributeMsg,
  type DimensionMsg,
  type GraphMsg,
  type Int64,
  type ModelMsg,
  type NodeMsg,
  type TensorMsg,
  type ValueInfoMsg,
} from './schema.ts';
import { tensorByteLength } from './tensor.ts';

const LENGTH_DELIMITED = 2;
// Field numbers of the fields framed by hand below, read from the schema rather than repeated.
const MODEL_GRAPH_FIELD = ModelProto.fields.graph!.id;
const GRAPH_INITIALIZER_FIELD = GraphProto.fields.initializer!.id;
const TENSOR_RAW_DATA_FIELD = TensorProto.fields.raw_data!.id;
/** protobuf's hard limit on one message; onnxruntime refuses larger files too. */
const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;

export interface EncodeOptions {
  /**
   * Initializers placed in an external data file (layoutExternalData): the .onnx holds only their
   * references, and the caller writes the file's bytes (externalDataPieces).
   */
  external?: ExternalDataLayout;
}

/**
 * Serialise a model to ONNX protobuf bytes, ready for `ort.InferenceSession.create(bytes)`.
 *
 * Initializer bytes are copied exactly once, into an output buffer allocated at its final size:
 * protobufjs encodes only the small parts (headers, nodes, value infos), and the top-level
 * graph and initializer framing is written here, because a protobuf message is the concatenation
 * of its fields, so every length is known before any large copy. Letting protobufjs encode the whole
 * tree instead grows its buffer by doubling and shifts each nested message after the fact: measured
 * 0.8-1.9 s and several model-sizes of peak memory for a 200 MB initializer, against ~0.3 s here
 * (mostly the first touch of the fresh output buffer's pages).
 *
 * The graph is the last field, after the opset imports and metadata: protobuf readers accept fields
 * in any order, and this way a truncated file always cuts into the graph, which decodeModel detects,
 * instead of silently losing trailing metadata or opsets.
 */
export function encodeModel(model: OnnxModel, opts: EncodeOptions = {}): Uint8Array {
  const header: ModelMsg = {
    ir_version: int64(model.irVersion, 'irVersion'),
    opset_import: model.opsetImports.map((o) => ({
      domain: o.domain,
      version: int64(o.version, `opset '${o.domain}'`),
    })),
    metadata_props: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  if (model.producerName !== undefined) header.producer_name = model.producerName;
  if (model.producerVersion !== undefined) header.producer_version = model.producerVersion;

  const pieces: Uint8Array[] = [ModelProto.encode(header).finish()];
  delimitedField(pieces, MODEL_GRAPH_FIELD, topGraphPieces(model.graph, opts.external));
  return concat(pieces);
}

/** The top-level graph as byte pieces: everything but the initializers via protobufjs, then each initializer. */
function topGraphPieces(g: OnnxGraph, external?: ExternalDataLayout): Uint8Array[] {
  const pieces = [GraphProto.encode(graphMsg({ ...g, initializers: [] })).finish()];
  for (const t of g.initializers) {
    const offset = external?.offsets.get(t);
    const ref =
      offset === undefined ? t.external : { location: external!.location, offset, length: t.rawData.byteLength };
    if (ref) {
      delimitedField(pieces, GRAPH_INITIALIZER_FIELD, [
        TensorProto.encode(tensorMsg({ ...t, external: ref })).finish(),
      ]);
      continue;
    }
    const tensor = [TensorProto.encode(tensorHeaderMsg(t)).finish()];
    delimitedField(tensor, TENSOR_RAW_DATA_FIELD, [t.rawData]);
    delimitedField(pieces, GRAPH_INITIALIZER_FIELD, tensor);
  }
  return pieces;
}

/** Append a length-delimited field (tag, byte length, then the field's pieces) to `out`. */
function delimitedField(out: Uint8Array[], field: number, pieces: Uint8Array[]): void {
  const length = pieces.reduce((n, p) => n + p.byteLength, 0);
  out.push(
    protobuf.Writer.create()
      .uint32((field << 3) | LENGTH_DELIMITED)
      .uint32(length)
      .finish(),
  );
  for (const p of pieces) out.push(p);
}

function concat(pieces: Uint8Array[]): Uint8Array {
  const total = pieces.reduce((n, p) => n + p.byteLength, 0);
  if (total > MAX_PROTOBUF_BYTES) {
    throw new Error(
      `model is ${total} bytes, over protobuf's 2 GB limit for one ONNX file; ` +
        "keep the weights in an external data file (writeOnnxFile with externalData: true, retort export's default for big models) or store them in lower precision",
    );
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function graphMsg(g: OnnxGraph): GraphMsg {
  return {
    name: g.name,
    node: g.nodes.map((n) => nodeMsg(n, g.name)),
    initializer: g.initializers.map(tensorMsg),
    input: g.inputs.map(valueInfoMsg),
    output: g.outputs.map(valueInfoMsg),
    value_info: (g.valueInfo ?? []).map(valueInfoMsg),
  };
}

function nodeMsg(n: OnnxNode, graphName: string): NodeMsg {
  const where = `graph '${graphName}' node '${n.name ?? n.opType}'`;
  const msg: NodeMsg = {
    op_type: n.opType,
    input: n.inputs,
    output: n.outputs,
    attribute: n.attributes.map((a) => attributeMsg(a, `${where} attribute '${a.name}'`)),
  };
  // Optional strings are written only when set, so decode(encode(m)) gives back exactly m.
  if (n.name !== undefined) msg.name = n.name;
  if (n.domain !== undefined) msg.domain = n.domain;
  return msg;
}

const utf8 = new TextEncoder();

function attributeMsg(a: OnnxAttribute, where: string): AttributeMsg {
  const name = a.name;
  switch (a.type) {
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'int':
      return { name, type: AttributeType.INT, i: int64(a.value, where) };
    case 'string':
      return { name, type: AttributeType.STRING, s: utf8.encode(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorMsg(a.value) };
    case 'graph':
      return { name, type: AttributeType.GRAPH, g: graphMsg(a.value) };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value.map((v) => int64(v, where)) };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
  }
}

function tensorMsg(t: OnnxTensor): TensorMsg {
  if (!t.external) return { ...tensorHeaderMsg(t), raw_data: t.rawData };
  return { ...tensorHeaderMsg(t), data_location: DATA_LOCATION_EXTERNAL, external_data: externalEntries(t.external) };
}

// onnx.proto: "location" (relative path), "offset" and "length" in bytes, each a decimal string.
function externalEntries(ref: OnnxExternalRef): { key: string; value: string }[] {
  return [
    { key: 'location', value: ref.location },
    { key: 'offset', value: String(ref.offset) },
    { key: 'length', value: String(ref.length) },
  ];
}

/** Everything but the data, after checking that the data fits the dims. */
function tensorHeaderMsg(t: OnnxTensor): TensorMsg {
  const expected = tensorByteLength(t);
  const held = t.external ? t.external.length : t.rawData.byteLength;
  if (t.external && held !== expected) {
    throw new Error(
      `tensor '${t.name}': its external data reference covers ${held} bytes but dims [${t.dims}] need ${expected}`,
    );
  }
  if (!t.external && held !== expected) {
    throw new Error(
      `tensor '${t.name}': rawData has ${t.rawData.byteLength} bytes but dims [${t.dims}] need ${expected}; ` +
        'build tensors with typedArrayToTensor to keep the two in step',
    );
  }
  return {
    name: t.name,
    data_type: t.dataType,
    dims: t.dims.map((d) => int64(d, `tensor '${t.name}' dims`)),
  };
}

function valueInfoMsg(v: OnnxValueInfo): ValueInfoMsg {
  const dim = (d: number | string | null): DimensionMsg =>
    typeof d === 'number'
      ? { dim_value: int64(d, `value '${v.name}' shape`) }
      : typeof d === 'string'
        ? { dim_param: d }
        : {};
  return {
    name: v.name,
    type: { tensor_type: { elem_type: v.elemType, shape: v.shape === null ? undefined : { dim: v.shape.map(dim) } } },
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A JS number as a protobuf int64. Beyond 2^53 a number is inexact anyway, so out-of-range values
 * saturate: that keeps ONNX's INT64_MAX sentinel (e.g. "slice to the end"), which decodes to 2^63
 * as a number, exactly INT64_MAX after a round trip.
 */
function int64(v: number, where: string): Int64 {
  if (!Number.isInteger(v)) throw new Error(`${where}: expected an integer for an int64 field, got ${v}`);
  if (Number.isSafeInteger(v)) return v;
  let b = BigInt(v);
  b = b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
  return { low: Number(BigInt.asIntN(32, b)), high: Number(BigInt.asIntN(32, b >> 32n)) };
}
