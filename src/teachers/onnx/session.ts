// One onnxruntime session over a decoder or classifier ONNX file with transformers.js /
// onnx-community input names, and the feeds such files expect:
//   input_ids        int64 (or int32) [batch, sequence]                       required
//   attention_mask   [batch, past + sequence]    1 = attend                  optional
//   position_ids     [batch, sequence]           from the mask (HF's cumsum − 1) optional
//   token_type_ids   [batch, sequence]           zeros (BERT-style classifiers)  optional
//   past_key_values.{i}.key / .value  [batch, heads, past, head_dim]         optional; empty (past 0) unless given
//   use_cache_branch bool [1]                    false (merged decoders)     optional
// Anything else the graph asks for is an error naming it.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import {
  checkExternalData,
  decodeModel,
  encodeModel,
  readExternalDataFiles,
  usesExternalData,
  OnnxDataType,
  type OnnxDataTypeCode,
  type OnnxModel,
  type OnnxValueInfo,
} from '../../onnx/index.ts';
import { f16BitsToFloat32 } from '../../models/checkpoint/float16.ts';
import { defaultThreads, hostTensor, type HostTensor } from '../../runtime/index.ts';
import { appendTopK, exposeOutputs, TOPK_INDICES, TOPK_K_INPUT, TOPK_VALUES } from './graph-edit.ts';

export interface PastInput {
  name: string;
  layer: number;
  kind: 'key' | 'value';
  /** [heads, headDim] of the cache tensors. */
  heads: number;
  headDim: number;
  elemType: OnnxDataTypeCode;
}

/** What the file's inputs are, sorted into the roles above. */
export interface OnnxIo {
  ids: OnnxValueInfo;
  mask?: OnnxValueInfo;
  positions?: OnnxValueInfo;
  tokenTypes?: OnnxValueInfo;
  cacheBranch?: OnnxValueInfo;
  /** Past keys/values by layer, in layer order (key and value per layer). */
  past: PastInput[];
  /** present.{i}.key/value output names by layer (same order as past), when the graph returns its cache. */
  present: string[];
  /** The logits output. */
  logits: OnnxValueInfo;
}

export interface OnnxSessionOptions {
  /** Intermediate values to add as outputs (hidden states, attention maps), by value name. */
  extraOutputs?: readonly string[];
  /** Append LogSoftmax + TopK over the logits (default true). */
  topK?: boolean;
  /** Output holding the logits; default 'logits', else the graph's first output. */
  logitsName?: string;
  /** config.json fields, for cache shapes the file leaves symbolic (num_key_value_heads, head_dim, ...). */
  config?: Record<string, unknown>;
  threads?: number;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const ORT_TYPE: Partial<Record<number, ort.Tensor.Type>> = {
  [OnnxDataType.FLOAT]: 'float32',
  [OnnxDataType.FLOAT16]: 'float16',
  [OnnxDataType.INT64]: 'int64',
  [OnnxDataType.INT32]: 'int32',
  [OnnxDataType.BOOL]: 'bool',
  [OnnxDataType.DOUBLE]: 'float64',
};

function ortType(v: OnnxValueInfo): ort.Tensor.Type {
  const t = ORT_TYPE[v.elemType];
  if (!t) throw new Error(`ONNX teacher: input '${v.name}' has element type ${v.elemType}, which Retort cannot feed`);
  return t;
}

function emptyOf(type: ort.Tensor.Type, n: number) {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
      return new Uint8Array(n);
    default:
      throw new Error(`ONNX teacher: cannot make a ${type} tensor`);
  }
}

/** Cache head count and width from the input's static dims, else from config.json. */
function cacheDims(v: OnnxValueInfo, config: Record<string, unknown> | undefined): [number, number] {
  const [, h, , d] = v.shape ?? [];
  const num = (x: unknown) => (typeof x === 'number' && x > 0 ? x : undefined);
  const heads = num(h) ?? num(config?.num_key_value_heads) ?? num(config?.num_attention_heads) ?? num(config?.n_head);
  const width = num(config?.hidden_size) ?? num(config?.n_embd);
  const nHeads = num(config?.num_attention_heads) ?? num(config?.n_head);
  const headDim = num(d) ?? num(config?.head_dim) ?? (width && nHeads ? width / nHeads : undefined);
  if (!heads || !headDim) {
    throw new Error(
      `ONNX teacher: input '${v.name}' has shape [${(v.shape ?? []).join(', ')}] with no fixed head count or head size; pass the model's config.json (config option) so empty caches can be fed`,
    );
  }
  return [heads, headDim];
}

/** Sorts the graph's inputs into roles; throws naming any input it cannot feed. */
export function describeIo(model: OnnxModel, o: OnnxSessionOptions = {}): OnnxIo {
  const g = model.graph;
  const inits = new Set(g.initializers.map((t) => t.name)); // old files list initializers as inputs too
  const inputs = g.inputs.filter((v) => !inits.has(v.name) && v.name !== TOPK_K_INPUT);
  const byName = new Map(inputs.map((v) => [v.name, v]));
  const ids = byName.get('input_ids');
  if (!ids)
    throw new Error(
      `ONNX teacher: the graph has no 'input_ids' input (inputs: ${inputs.map((v) => v.name).join(', ')}); Retort reads files with transformers.js / onnx-community input names`,
    );
  const past: PastInput[] = [];
  const unknown: string[] = [];
  for (const v of inputs) {
    const m = PAST.exec(v.name);
    if (m) {
      const [heads, headDim] = cacheDims(v, o.config);
      past.push({
        name: v.name,
        layer: Number(m[1]),
        kind: m[2] as 'key' | 'value',
        heads,
        headDim,
        elemType: v.elemType,
      });
    } else if (!['input_ids', 'attention_mask', 'position_ids', 'token_type_ids', 'use_cache_branch'].includes(v.name))
      unknown.push(v.name);
  }
  if (unknown.length)
    throw new Error(
      `ONNX teacher: the graph needs input(s) ${unknown.map((u) => `'${u}'`).join(', ')}, which Retort does not know how to fill; it feeds input_ids, attention_mask, position_ids, token_type_ids, past_key_values.* and use_cache_branch`,
    );
  past.sort((a, b) => a.layer - b.layer || (a.kind === 'key' ? -1 : 1));
  const outNames = new Set(g.outputs.map((v) => v.name));
  const present = past.map((p) => `present.${p.layer}.${p.kind}`);
  const logitsName = o.logitsName ?? (outNames.has('logits') ? 'logits' : g.outputs[0]?.name);
  const logits = g.outputs.find((v) => v.name === logitsName);
  if (!logits)
    throw new Error(
      `ONNX teacher: the graph has no output '${logitsName}'; outputs: ${g.outputs.map((v) => v.name).join(', ')}`,
    );
  return {
    ids,
    past,
    logits,
    mask: byName.get('attention_mask'),
    positions: byName.get('position_ids'),
    tokenTypes: byName.get('token_type_ids'),
    cacheBranch: byName.get('use_cache_branch'),
    present: present.every((p) => outNames.has(p)) ? present : [],
  };
}

export interface OnnxRunInputs {
  /** (B, T) token ids. */
  ids: HostTensor;
  /** (B, past + T) 1 = attend; default all ones. */
  mask?: HostTensor;
  /** (B, T) positions; default from the mask (cumsum − 1, clamped at 0), as Hugging Face computes them. */
  positions?: HostTensor;
  /** Cache tensors by input name; missing ones are fed empty (past length 0). */
  past?: Record<string, ort.Tensor>;
  /** k of the appended TopK (1 when unused). */
  k?: number;
}

/** A float32/int64 host tensor from an onnxruntime output (float16 widened). */
export function fromOrt(t: ort.Tensor): HostTensor {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32':
      return hostTensor('float32', dims, t.data as Float32Array);
    case 'float16':
      return hostTensor(
        'float32',
        dims,
        t.data instanceof Uint16Array ? f16BitsToFloat32(t.data) : Float32Array.from(t.data as ArrayLike<number>),
      );
    case 'float64':
      return hostTensor('float64', dims, t.data as Float64Array);
    case 'int64':
      return hostTensor('int64', dims, t.data as BigInt64Array);
    case 'int32':
      return hostTensor('int32', dims, t.data as Int32Array);
    case 'bool':
      return hostTensor('bool', dims, t.data as Uint8Array);
    default:
      throw new Error(`ONNX teacher: output of type ${t.type} is not supported`);
  }
}

/** Positions from a (B, S) mask for the last T slots: cumsum(mask) − 1, clamped at 0. */
export function positionsFromMask(mask: HostTensor, t: number): BigInt64Array {
  const [b, s] = mask.shape as [number, number];
  const out = new BigInt64Array(b * t);
  for (let r = 0; r < b; r++) {
    let c = 0;
    for (let j = 0; j < s; j++) {
      c += Number(mask.data[r * s + j]) ? 1 : 0;
      if (j >= s - t) out[r * t + j - (s - t)] = BigInt(Math.max(c - 1, 0));
    }
  }
  return out;
}

export class OnnxSession {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly io: OnnxIo,
    /** The edited model's outputs by name. */
    readonly outputs: ReadonlySet<string>,
    /** Whether TopK was appended to the graph (else top-k is computed in JS over the logits). */
    readonly graphTopK: boolean,
  ) {}

  /**
   * Opens a file (path or bytes). The graph is decoded, edited (extra outputs, TopK) and re-encoded;
   * files Retort's decoder cannot read open unedited, with top-k done in JS. A file whose weights
   * sit in a data file beside it (model.onnx_data) is opened by its path, unedited, so onnxruntime
   * reads the weights once; only when extra outputs are asked for is it edited, its data files
   * handed over in memory (onnxruntime copies them: twice the weights at peak, while it loads).
   */
  static async open(file: string | Uint8Array, o: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const bytes = typeof file === 'string' ? readFileSync(file) : file;
    let model: OnnxModel | undefined;
    try {
      model = decodeModel(bytes, { externalData: 'reference' });
    } catch (err) {
      if (o.extraOutputs?.length)
        throw new Error(
          `ONNX teacher: cannot edit ${typeof file === 'string' ? file : 'the model'} to expose outputs (${(err as Error).message})`,
          { cause: err },
        );
    }
    const threads = o.threads ?? defaultThreads();
    const opts: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      enableMemPattern: false,
    };
    const external = model !== undefined && usesExternalData(model);
    if (external && typeof file !== 'string')
      throw new Error(
        'ONNX teacher: the model keeps its weights in an external data file, and bytes alone do not say where it is; open it by its path',
      );
    if (external) checkExternalData(file as string, model!);
    if (!model || (external && !o.extraOutputs?.length)) {
      if (typeof file !== 'string')
        throw new Error(
          'ONNX teacher: the bytes are not an ONNX model Retort can decode, and without a path onnxruntime cannot find external data',
        );
      const session = await ort.InferenceSession.create(file, opts);
      const io = model ? describeIo(model, o) : ioFromSession(session);
      return new OnnxSession(session, io, new Set(session.outputNames), false);
    }
    const io = describeIo(model, o);
    let edited = o.extraOutputs?.length ? exposeOutputs(model, o.extraOutputs) : model;
    const topK = o.topK ?? true;
    if (topK) edited = appendTopK(edited, io.logits.name);
    if (external) opts.externalData = readExternalDataFiles(file as string, model);
    const session = await ort.InferenceSession.create(encodeModel(edited), opts);
    return new OnnxSession(session, io, new Set(edited.graph.outputs.map((v) => v.name)), topK);
  }

  /** Runs the graph, fetching `fetch` (output names). */
  async run(x: OnnxRunInputs, fetch: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const { io } = this;
    const [b, t] = x.ids.shape as [number, number];
    const pastLen = Number(Object.values(x.past ?? {})[0]?.dims[2] ?? 0);
    const feeds: Record<string, ort.Tensor> = {};
    const intType = (v: OnnxValueInfo) => ortType(v) as 'int64' | 'int32';
    const ints = (v: OnnxValueInfo, dims: number[], values: ArrayLike<number | bigint>) => {
      const type = intType(v);
      const data =
        type === 'int64'
          ? BigInt64Array.from(values as ArrayLike<bigint>, (z) => BigInt(z))
          : Int32Array.from(values as ArrayLike<number>, Number);
      return new ort.Tensor(type, data, dims);
    };
    feeds[io.ids.name] = ints(io.ids, [b, t], x.ids.data as ArrayLike<bigint>);
    const mask = x.mask ?? hostTensor('int64', [b, pastLen + t], new BigInt64Array(b * (pastLen + t)).fill(1n));
    if (io.mask) feeds[io.mask.name] = ints(io.mask, mask.shape, mask.data as ArrayLike<bigint>);
    if (io.positions)
      feeds[io.positions.name] = ints(
        io.positions,
        [b, t],
        (x.positions?.data as ArrayLike<bigint>) ?? positionsFromMask(mask, t),
      );
    if (io.tokenTypes) feeds[io.tokenTypes.name] = ints(io.tokenTypes, [b, t], new BigInt64Array(b * t));
    if (io.cacheBranch) feeds[io.cacheBranch.name] = new ort.Tensor('bool', new Uint8Array([pastLen > 0 ? 1 : 0]), [1]);
    for (const p of io.past) {
      const type = ORT_TYPE[p.elemType] ?? 'float32';
      feeds[p.name] = x.past?.[p.name] ?? new ort.Tensor(type, emptyOf(type, 0), [b, p.heads, 0, p.headDim]);
    }
    if (this.graphTopK) feeds[TOPK_K_INPUT] = new ort.Tensor('int64', new BigInt64Array([BigInt(x.k ?? 1)]), [1]);
    const missing = fetch.filter((f) => !this.outputs.has(f));
    if (missing.length)
      throw new Error(`ONNX teacher: the session has no output ${missing.map((m) => `'${m}'`).join(', ')}`);
    return this.session.run(feeds, fetch as string[]);
  }

  get topkNames(): { values: string; indices: string } {
    return { values: TOPK_VALUES, indices: TOPK_INDICES };
  }
}

/** Roles from a session's input names alone (files Retort cannot decode): cache shapes unknown. */
function ioFromSession(s: ort.InferenceSession): OnnxIo {
  const v = (name: string): OnnxValueInfo => ({ name, elemType: OnnxDataType.INT64, shape: null });
  const has = (n: string) => s.inputNames.includes(n);
  if (!has('input_ids'))
    throw new Error(`ONNX teacher: the graph has no 'input_ids' input (inputs: ${s.inputNames.join(', ')})`);
  if (s.inputNames.some((n) => PAST.test(n)))
    throw new Error(
      'ONNX teacher: this file has past_key_values inputs and could not be decoded to read their shapes; use a file without external data',
    );
  return {
    ids: v('input_ids'),
    mask: has('attention_mask') ? v('attention_mask') : undefined,
    positions: has('position_ids') ? v('position_ids') : undefined,
    tokenTypes: has('token_type_ids') ? v('token_type_ids') : undefined,
    past: [],
    present: [],
    logits: {
      name: s.outputNames.includes('logits') ? 'logits' : s.outputNames[0]!,
      elemType: OnnxDataType.FLOAT,
      shape: null,
    },
  };
}
