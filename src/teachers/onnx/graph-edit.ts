// Edits of a decoded ONNX graph that let a teacher file give more than its logits: intermediate
// values as extra graph outputs (hidden states), and a LogSoftmax + TopK tail so top-k log-probs
// leave the session as (B, T, k) instead of the whole (B, T, V) logits.
import { OnnxDataType, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from '../../onnx/index.ts';

/** Name of the graph input that carries k for the appended TopK (int64 [1]), so one session serves every k. */
export const TOPK_K_INPUT = 'retort.topk.k';
export const TOPK_VALUES = 'retort.topk.logprobs';
export const TOPK_INDICES = 'retort.topk.ids';

/** A value some node computes that could be exposed as an output. */
export interface CandidateTensor {
  /** Value name (what `hidden` options take). */
  name: string;
  opType: string;
  /** The producing node's name ('' when the file leaves it empty). */
  node: string;
  /** Position of the producing node in the graph's node list (files are topologically sorted). */
  index: number;
}

/** Ops whose outputs are usually worth a look as hidden states: residual adds and normalizations. */
export const CANDIDATE_OPS = [
  'Add',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'RMSNormalization',
] as const;

/**
 * Outputs of Add and normalization nodes in graph order, for choosing hidden states by name.
 * Adds of a bias or a constant (one input an initializer or a Constant node's output) are left out.
 */
export function listCandidates(model: OnnxModel, ops: readonly string[] = CANDIDATE_OPS): CandidateTensor[] {
  const g = model.graph;
  const constant = constantNames(g);
  const out: CandidateTensor[] = [];
  g.nodes.forEach((n, index) => {
    if (!ops.includes(n.opType)) return;
    if (n.opType === 'Add' && n.inputs.some((i) => constant.has(i))) return;
    out.push({ name: n.outputs[0]!, opType: n.opType, node: n.name ?? '', index });
  });
  return out;
}

/** Ops that hand a value on unchanged in meaning: dtype casts (fp16 files, Hugging Face's float32 norms) and copies. */
const PASS_OPS = new Set(['Cast', 'Identity']);

/** Initializers and Constant outputs, and whatever Cast/Identity nodes make of them (torch writes shared weights as Identity copies). */
function constantNames(g: OnnxGraph): Set<string> {
  const s = new Set(g.initializers.map((t) => t.name));
  for (const n of g.nodes) {
    if (n.opType === 'Constant' || (PASS_OPS.has(n.opType) && n.inputs.length > 0 && n.inputs.every((i) => s.has(i))))
      for (const o of n.outputs) s.add(o);
  }
  return s;
}

const NORM_OPS = new Set([
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'RMSNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
]);

/** Producers and readers of every value, for walking the graph both ways. */
interface GraphIndex {
  graph: OnnxGraph;
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  constants: Set<string>;
}

function indexGraph(g: OnnxGraph): GraphIndex {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  return { graph: g, producer, consumers, constants: constantNames(g) };
}

/** The value behind any chain of Cast/Identity nodes. */
function through(ix: GraphIndex, v: string): string {
  for (let p = ix.producer.get(v); p && PASS_OPS.has(p.opType) && p.inputs[0]; p = ix.producer.get(v)) v = p.inputs[0];
  return v;
}

/** Nodes that read `v`, directly or through Cast/Identity nodes (which are looked through, not returned). */
function readers(ix: GraphIndex, v: string, seen = new Set<string>()): OnnxNode[] {
  if (seen.has(v)) return [];
  seen.add(v);
  return (ix.consumers.get(v) ?? []).flatMap((n) => (PASS_OPS.has(n.opType) ? readers(ix, n.outputs[0]!, seen) : [n]));
}

/** The one number a constant value holds (Constant node or initializer, any numeric type, through Cast/Identity), if it holds one. */
function scalarOf(ix: GraphIndex, v: string): number | undefined {
  const name = through(ix, v);
  const c = ix.producer.get(name);
  const attr = c?.opType === 'Constant' ? c.attributes.find((a) => a.name === 'value') : undefined;
  const raw = attr?.type === 'tensor' ? attr.value : ix.graph.initializers.find((x) => x.name === name);
  if (!raw) return undefined;
  const b = raw.rawData;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (raw.dataType) {
    case OnnxDataType.FLOAT:
      return b.byteLength === 4 ? view.getFloat32(0, true) : undefined;
    case OnnxDataType.DOUBLE:
      return b.byteLength === 8 ? view.getFloat64(0, true) : undefined;
    case OnnxDataType.INT64:
      return b.byteLength === 8 ? Number(view.getBigInt64(0, true)) : undefined;
    case OnnxDataType.INT32:
      return b.byteLength === 4 ? view.getInt32(0, true) : undefined;
    case OnnxDataType.FLOAT16:
      return b.byteLength === 2 ? f16(view.getUint16(0, true)) : undefined;
    default:
      return undefined;
  }
}

function f16(h: number): number {
  const e = (h >> 10) & 0x1f,
    m = h & 0x3ff,
    sign = h & 0x8000 ? -1 : 1;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** `v` squared by this node: Pow(v, 2) with the exponent a constant of any numeric type, or Mul(v, v). */
function squareOf(ix: GraphIndex, n: OnnxNode | undefined): string | undefined {
  if (n?.opType === 'Pow' && n.inputs[1] && scalarOf(ix, n.inputs[1]) === 2) return through(ix, n.inputs[0]!);
  if (n?.opType === 'Mul' && n.inputs.length === 2 && through(ix, n.inputs[0]!) === through(ix, n.inputs[1]!))
    return through(ix, n.inputs[0]!);
  return undefined;
}

/**
 * The value a normalization starts from, when node `n` begins one: the input of a fused norm op, or,
 * for decomposed norms (opset < 17 exports, Hugging Face's RMSNorm), anchored at the ReduceMean:
 *   LayerNorm  ReduceMean(x) → Sub(x, mean) → Pow → ReduceMean → Add(eps) → Sqrt → Div ...
 *   RMSNorm    Pow(x, 2) or Mul(x, x) → ReduceMean → Add(eps) → Sqrt → Div/Reciprocal → Mul(x, ·)
 * Casts and Identity copies between the pieces are looked through. LayerNorm's second ReduceMean
 * (of the squared centred value) is not taken for an RMSNorm of the centred value.
 */
function normInput(ix: GraphIndex, n: OnnxNode): string | undefined {
  if (NORM_OPS.has(n.opType)) return through(ix, n.inputs[0]!);
  if (n.opType !== 'ReduceMean' || !n.inputs[0]) return undefined;
  const x = through(ix, n.inputs[0]);
  const centred = readers(ix, n.outputs[0]!).some(
    (r) => r.opType === 'Sub' && r.inputs[0] && through(ix, r.inputs[0]) === x,
  );
  if (centred) return x;
  const sq = squareOf(ix, ix.producer.get(x));
  if (sq === undefined || ix.producer.get(sq)?.opType === 'Sub') return undefined;
  return sq;
}

/** What the residual-stream walk found: hidden states 0..L, or why not and which values to name instead. */
export type ResidualWalk =
  | { names: string[] }
  | {
      names?: undefined;
      reason: string;
      /** Values that feed a normalization, then listCandidates' names, in graph order. */
      candidates: string[];
      /** Every second value that feeds a normalization, when there are 2L + 1 of them: a pre-norm decoder's hidden states 0..L. */
      suggested?: string[];
    };

/**
 * The residual stream of a pre-norm decoder, found by walking the graph: hidden[0] is the input of
 * the first normalization (the embedding output), and each later value is the one Add that reads
 * the previous one (inputs in either order, through Cast/Identity nodes): two per block, after
 * attention and after the MLP, each the input of the next norm. Returns hidden states 0..L (every
 * second value), or, where the graph is not of that shape (post-norm models, fused
 * SkipLayerNormalization graphs, residuals not written as Add), the reason and the values that
 * feed normalizations (then listCandidates' Adds), to name as hidden states instead.
 */
export function walkResidualStream(model: OnnxModel): ResidualWalk {
  const ix = indexGraph(model.graph);
  const normInputs: string[] = [];
  for (const n of model.graph.nodes) {
    const x = normInput(ix, n);
    if (x !== undefined && !normInputs.includes(x)) normInputs.push(x);
  }
  const candidates = [...new Set([...normInputs, ...listCandidates(model).map((c) => c.name)])];
  const suggested =
    normInputs.length >= 3 && normInputs.length % 2 === 1
      ? { suggested: normInputs.filter((_, i) => i % 2 === 0) }
      : {};
  if (!normInputs.length) {
    return {
      reason:
        'the residual-stream walk found no normalization (LayerNormalization, RMSNormalization, or a decomposed ReduceMean/Sub or Pow/ReduceMean norm) to start from',
      candidates,
    };
  }
  const fed = new Set(normInputs);
  const chain = [normInputs[0]!];
  for (;;) {
    const adds = readers(ix, chain.at(-1)!).filter(
      (n) => n.opType === 'Add' && !n.inputs.some((i) => ix.constants.has(i)),
    );
    const next = adds.length === 1 ? adds[0]!.outputs[0]! : undefined;
    if (next === undefined || !fed.has(next) || chain.includes(next)) break;
    chain.push(next);
  }
  if (chain.length < 3 || chain.length % 2 !== 1) {
    const after =
      chain.length === 1
        ? 'no residual Add that feeds a normalization reads it'
        : `the chain of residual Adds that feed normalizations stops after ${chain.length - 1} (a pre-norm decoder has two per block)`;
    return {
      reason: `the residual-stream walk found no hidden states: from the first normalization's input '${chain[0]}', ${after}`,
      candidates,
      ...suggested,
    };
  }
  return { names: chain.filter((_, i) => i % 2 === 0) };
}

/** The residual stream (walkResidualStream's names), or undefined where the walk fails. */
export function residualStream(model: OnnxModel): string[] | undefined {
  return walkResidualStream(model).names;
}

/** How to name hidden states when the walk did not find them: the config field, the load option, and the likely values. */
export function hiddenHint(
  why: string,
  candidates: readonly string[],
  suggested?: readonly string[],
  max = 16,
): string {
  const q = (names: readonly string[]) => names.map((c) => `'${c}'`).join(', ');
  const more = candidates.length > max ? `, ... (${candidates.length - max} more: inspectOnnx lists them)` : '';
  const example = suggested?.length ? q(suggested) : candidates.length ? `${q(candidates.slice(0, 2))}, ...` : '...';
  return (
    `${why}. Name them, embedding output first, then each block's output: ` +
    `\`source.hidden: [${example}]\` in a run config, or the \`hidden: [...]\` option of OnnxTeacher.load` +
    (suggested?.length
      ? ` (these ${suggested.length} are every second value that feeds a normalization: a pre-norm decoder's residual stream)`
      : '') +
    '. ' +
    (candidates.length
      ? `Candidates (values that feed a normalization, then other Add and norm outputs), in graph order: ${q(candidates.slice(0, max))}${more}`
      : 'The graph has no Add or normalization outputs to suggest; see inspectOnnx')
  );
}

/** Every value name the graph defines (inputs, initializers, node outputs). */
function definedNames(g: OnnxGraph): Set<string> {
  const s = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name)]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) s.add(o);
  return s;
}

/**
 * Adds graph outputs for intermediate values, by name. The element type comes from the graph's
 * value_info when recorded, else float32 (what hidden states are in float32 files); shapes are left
 * unrecorded, so any size passes. Returns a new model; `model` is not changed.
 */
export function exposeOutputs(model: OnnxModel, names: readonly string[]): OnnxModel {
  const g = model.graph;
  const defined = definedNames(g);
  const missing = names.filter((n) => !defined.has(n));
  if (missing.length) {
    const sample = listCandidates(model)
      .slice(0, 8)
      .map((c) => c.name)
      .join(', ');
    throw new Error(
      `ONNX teacher: no value named ${missing.map((m) => `'${m}'`).join(', ')} in the graph; candidates (listCandidates) include: ${sample}`,
    );
  }
  const known = new Map<string, OnnxValueInfo>(
    [...(g.valueInfo ?? []), ...g.inputs, ...g.outputs].map((v) => [v.name, v]),
  );
  const have = new Set(g.outputs.map((o) => o.name));
  const extra = names
    .filter((n, i) => !have.has(n) && names.indexOf(n) === i)
    .map((name) => ({ name, elemType: known.get(name)?.elemType ?? OnnxDataType.FLOAT, shape: null }));
  return { ...model, graph: { ...g, outputs: [...g.outputs, ...extra] } };
}

/**
 * Appends LogSoftmax(logits, axis -1) → TopK(k, axis -1, largest, sorted) with k fed through the
 * int64 [1] input TOPK_K_INPUT, and outputs TOPK_VALUES (float) and TOPK_INDICES (int64).
 * Opset 10 and later take k as an input. Before opset 13 LogSoftmax flattens to 2-D at its axis,
 * which for the last axis is the same per-row softmax, so the file's opset is left as it is.
 */
export function appendTopK(model: OnnxModel, logits: string): OnnxModel {
  const g = model.graph;
  const out = g.outputs.find((o) => o.name === logits);
  if (!out)
    throw new Error(
      `ONNX teacher: the graph has no output '${logits}' to take top-k of; outputs: ${g.outputs.map((o) => o.name).join(', ')}`,
    );
  const lsm = `${TOPK_VALUES}.logsoftmax`;
  const rank = out.shape?.length;
  const nodes: OnnxNode[] = [
    {
      opType: 'LogSoftmax',
      name: 'retort_topk_logsoftmax',
      inputs: [logits],
      outputs: [lsm],
      attributes: [{ name: 'axis', type: 'int', value: -1 }],
    },
    {
      opType: 'TopK',
      name: 'retort_topk',
      inputs: [lsm, TOPK_K_INPUT],
      outputs: [TOPK_VALUES, TOPK_INDICES],
      attributes: [
        { name: 'axis', type: 'int', value: -1 },
        { name: 'largest', type: 'int', value: 1 },
        { name: 'sorted', type: 'int', value: 1 },
      ],
    },
  ];
  const shape = rank === undefined ? null : Array.from({ length: rank }, () => null);
  return {
    ...model,
    graph: {
      ...g,
      nodes: [...g.nodes, ...nodes],
      inputs: [...g.inputs, { name: TOPK_K_INPUT, elemType: OnnxDataType.INT64, shape: [1] }],
      outputs: [
        ...g.outputs,
        { name: TOPK_VALUES, elemType: out.elemType, shape },
        { name: TOPK_INDICES, elemType: OnnxDataType.INT64, shape },
      ],
    },
  };
}
