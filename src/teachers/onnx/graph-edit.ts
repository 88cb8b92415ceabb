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
export const CANDIDATE_OPS = ['Add', 'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RMSNormalization'] as const;

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

function constantNames(g: OnnxGraph): Set<string> {
  const s = new Set(g.initializers.map((t) => t.name));
  for (const n of g.nodes) if (n.opType === 'Constant') for (const o of n.outputs) s.add(o);
  return s;
}

const NORM_OPS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * The residual stream of a pre-norm decoder, found by walking the graph: hidden[0] is the input of
 * the first normalization (the embedding output), and each later entry follows the chain of Add
 * nodes that take the previous entry as an input (two per block: after attention and after the
 * MLP). Returns hidden states 0..L (every second Add), or undefined when the walk does not find
 * that shape (post-norm models, fused SkipLayerNormalization graphs, decomposed norms): name the
 * values yourself then, from listCandidates.
 */
export function residualStream(model: OnnxModel): string[] | undefined {
  const g = model.graph;
  const firstNorm = g.nodes.find((n) => NORM_OPS.has(n.opType) || (n.opType === 'Pow' && isSquare(g, n)));
  if (!firstNorm) return undefined;
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const chain = [firstNorm.inputs[0]!];
  for (;;) {
    const adds = (consumers.get(chain.at(-1)!) ?? []).filter((n) => n.opType === 'Add');
    if (adds.length !== 1) break;
    chain.push(adds[0]!.outputs[0]!);
  }
  if (chain.length < 3 || chain.length % 2 !== 1) return undefined;
  return chain.filter((_, i) => i % 2 === 0);
}

function isSquare(g: OnnxGraph, pow: OnnxNode): boolean {
  const exp = pow.inputs[1];
  const c = g.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === exp);
  const t = c?.attributes.find((a) => a.name === 'value');
  const init = g.initializers.find((x) => x.name === exp);
  const raw = t?.type === 'tensor' ? t.value : init;
  if (!raw || raw.dataType !== OnnxDataType.FLOAT || raw.rawData.byteLength !== 4) return false;
  return new DataView(raw.rawData.buffer, raw.rawData.byteOffset, 4).getFloat32(0, true) === 2;
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
    const sample = listCandidates(model).slice(0, 8).map((c) => c.name).join(', ');
    throw new Error(`ONNX teacher: no value named ${missing.map((m) => `'${m}'`).join(', ')} in the graph; candidates (listCandidates) include: ${sample}`);
  }
  const known = new Map<string, OnnxValueInfo>([...(g.valueInfo ?? []), ...g.inputs, ...g.outputs].map((v) => [v.name, v]));
  const have = new Set(g.outputs.map((o) => o.name));
  const extra = names.filter((n, i) => !have.has(n) && names.indexOf(n) === i).map((name) => ({ name, elemType: known.get(name)?.elemType ?? OnnxDataType.FLOAT, shape: null }));
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
  if (!out) throw new Error(`ONNX teacher: the graph has no output '${logits}' to take top-k of; outputs: ${g.outputs.map((o) => o.name).join(', ')}`);
  const lsm = `${TOPK_VALUES}.logsoftmax`;
  const rank = out.shape?.length;
  const nodes: OnnxNode[] = [
    { opType: 'LogSoftmax', name: 'retort_topk_logsoftmax', inputs: [logits], outputs: [lsm], attributes: [{ name: 'axis', type: 'int', value: -1 }] },
    {
      opType: 'TopK',
      name: 'retort_topk',
      inputs: [lsm, TOPK_K_INPUT],
      outputs: [TOPK_VALUES, TOPK_INDICES],
      attributes: [{ name: 'axis', type: 'int', value: -1 }, { name: 'largest', type: 'int', value: 1 }, { name: 'sorted', type: 'int', value: 1 }],
    },
  ];
  const shape = rank === undefined ? null : Array.from({ length: rank }, () => null);
  return {
    ...model,
    graph: {
      ...g,
      nodes: [...g.nodes, ...nodes],
      inputs: [...g.inputs, { name: TOPK_K_INPUT, elemType: OnnxDataType.INT64, shape: [1] }],
      outputs: [...g.outputs, { name: TOPK_VALUES, elemType: out.elemType, shape }, { name: TOPK_INDICES, elemType: OnnxDataType.INT64, shape }],
    },
  };
}
