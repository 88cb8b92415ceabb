// Int8 quantization of an exported graph's weight matrices: 8-bit, symmetric, one scale per output
// channel, stored in the file (4x smaller). Two ways to compute with them, both standard ONNX ops with
// kernels in onnxruntime's CPU provider, which is also what onnxruntime-web's wasm backend runs:
//   'dynamic' (default; the scheme of onnxruntime's quantize_dynamic, which transformers.js loads as
//     model_quantized.onnx): activations quantized at run time (DynamicQuantizeLinear: uint8, one
//     scale and zero point per tensor), MatMulInteger (int32), then Cast and one Mul by activation
//     scale × channel scales. Weights are stored as uint8 with zero point 128 (U8U8), not int8: on
//     x86 with AVX2, onnxruntime's u8×s8 kernel sums pairs of products in int16 and saturates (255 ·
//     127 · 2 > 32767), which made logits drift 20x more in onnxruntime-node than in onnxruntime-web
//     on the same file; U8U8 has no such path and both runtimes then agree.
//   'weights': int8, DequantizeLinear back to float in front of the original MatMul/Gemm. Float math,
//     so only weight rounding shows, at the cost of dequantizing on every run.
// Embedding tables (Gather) keep their 8-bit rows and dequantize only the rows gathered, so a tied LM
// head and embedding share one table.
import { tensorToTypedArray } from '../onnx/index.ts';
import { OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/model.ts';

export interface QuantizeReport {
  /** Names of the weight matrices now stored as int8. */
  quantized: string[];
  /** Float bytes of those weights before, and int8 + scale bytes after. */
  bytesBefore: number;
  bytesAfter: number;
}

/** How a weight is used: which axis of the stored (rows, cols) matrix holds the output channels. */
type Use = { node: OnnxNode; kind: 'matmul' | 'gemm' | 'gather'; axis: 0 | 1 };

const attr = (n: OnnxNode, name: string): number | undefined => {
  const a = n.attributes.find((x) => x.name === name);
  return a && (a.type === 'int' || a.type === 'float') ? a.value : undefined;
};

function useOf(node: OnnxNode, slot: number): Use | null {
  if (node.opType === 'MatMul' && slot === 1) return { node, kind: 'matmul', axis: 1 };
  if (
    node.opType === 'Gemm' &&
    slot === 1 &&
    !attr(node, 'transA') &&
    (attr(node, 'alpha') ?? 1) === 1 &&
    (attr(node, 'beta') ?? 1) === 1
  ) {
    return { node, kind: 'gemm', axis: attr(node, 'transB') ? 0 : 1 };
  }
  if (node.opType === 'Gather' && slot === 0 && (attr(node, 'axis') ?? 0) === 0)
    return { node, kind: 'gather', axis: 0 };
  return null;
}

/** Symmetric per-channel int8: q = round(w / s), s = max|w| / qmax over the channel (qmax 127, or 63 for 7-bit range). */
export function quantizeMatrix(
  w: Float32Array,
  rows: number,
  cols: number,
  axis: 0 | 1,
  qmax = 127,
): { q: Int8Array; scale: Float32Array } {
  const channels = axis === 0 ? rows : cols;
  const scale = new Float32Array(channels);
  const at = (r: number, c: number) => w[r * cols + c]!;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const ch = axis === 0 ? r : c;
      scale[ch] = Math.max(scale[ch]!, Math.abs(at(r, c)));
    }
  for (let ch = 0; ch < channels; ch++) scale[ch] = scale[ch]! > 0 ? scale[ch]! / qmax : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      q[r * cols + c] = Math.max(-qmax, Math.min(qmax, Math.round(at(r, c) / scale[axis === 0 ? r : c]!)));
    }
  return { q, scale };
}

export interface QuantizeOptions {
  /** 'dynamic' (default): integer matmuls on run-time quantized activations. 'weights': 8-bit storage, float math. */
  mode?: 'dynamic' | 'weights';
}

/** Returns a new model with every float weight matrix fed only to MatMul/Gemm/Gather stored as int8. */
export function quantizeInt8(model: OnnxModel, o: QuantizeOptions = {}): { model: OnnxModel; report: QuantizeReport } {
  const mode = o.mode ?? 'dynamic';
  const g = model.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, (Use | null)[]>();
  for (const node of g.nodes)
    node.inputs.forEach((name, slot) => {
      if (inits.has(name)) uses.set(name, [...(uses.get(name) ?? []), useOf(node, slot)]);
    });
  const graphOutputs = new Set(g.outputs.map((v) => v.name));

  // A weight qualifies when it is a float matrix, every use is one we rewrite, and the uses agree on the channel axis.
  const chosen = new Map<string, { axis: 0 | 1; q: Int8Array; scale: Float32Array }>();
  for (const [name, us] of uses) {
    const t = inits.get(name)!;
    if (t.dataType !== OnnxDataType.FLOAT || t.dims.length !== 2 || graphOutputs.has(name)) continue;
    if (us.some((u) => u === null) || new Set(us.map((u) => u!.axis)).size !== 1) continue;
    const axis = us[0]!.axis;
    const [rows, cols] = t.dims as [number, number];
    chosen.set(name, { axis, ...quantizeMatrix(tensorToTypedArray(t) as Float32Array, rows, cols, axis) });
  }

  const nodes: OnnxNode[] = [];
  const added: OnnxTensor[] = [];
  const memo = new Map<string, string[]>();
  let counter = 0;
  const fresh = (base: string) => `q8_${base}_${counter++}`;
  const emit = (opType: string, inputs: string[], outputs = 1, attributes: OnnxAttribute[] = []): string[] => {
    const outs = Array.from({ length: outputs }, () => fresh(opType));
    nodes.push({ opType, domain: '', name: fresh(`n_${opType}`), inputs, outputs: outs, attributes });
    return outs;
  };
  const once = (key: string, make: () => string[]): string[] => {
    let v = memo.get(key);
    if (!v) memo.set(key, (v = make()));
    return v;
  };
  const tensor = (
    name: string,
    dataType: OnnxTensor['dataType'],
    dims: number[],
    arr: Int8Array | Uint8Array | Float32Array | BigInt64Array,
  ) => {
    added.push({ name, dataType, dims, rawData: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) });
    return name;
  };
  // Stored values: int8 for DequantizeLinear; uint8 = int8 + 128 (zero point 128) for MatMulInteger.
  const unsigned = mode === 'dynamic';
  for (const [name, c] of chosen) {
    const dims = [...inits.get(name)!.dims];
    if (unsigned)
      tensor(
        `${name}.q`,
        OnnxDataType.UINT8,
        dims,
        Uint8Array.from(c.q, (v) => v + 128),
      );
    else tensor(`${name}.q`, OnnxDataType.INT8, dims, c.q);
    tensor(`${name}.scale`, OnnxDataType.FLOAT, [c.scale.length], c.scale);
  }
  const constant = (key: string, make: () => string) => once(key, () => [make()])[0]!;
  const lastAxis = () =>
    constant('axes:-1', () => tensor(fresh('axes'), OnnxDataType.INT64, [1], BigInt64Array.of(-1n)));
  const zeroPoint = () => constant('zp', () => tensor(fresh('zero_point'), OnnxDataType.UINT8, [], Uint8Array.of(128)));
  const toFloat = (x: string) => emit('Cast', [x], 1, [{ name: 'to', type: 'int', value: OnnxDataType.FLOAT }])[0]!;

  /** x (…, K) @ 8-bit weight (K, N) with per-column scales, in float. */
  const integerMatmul = (x: string, w: string, transposed: boolean): string => {
    const [xq, xs, xzp] = once(`dq:${x}`, () => emit('DynamicQuantizeLinear', [x], 3));
    const [b] = transposed
      ? once(`tr:${w}`, () => emit('Transpose', [`${w}.q`], 1, [{ name: 'perm', type: 'ints', value: [1, 0] }]))
      : [`${w}.q`];
    const [acc] = emit('MatMulInteger', [xq!, b!, xzp!, zeroPoint()]);
    const [scale] = emit('Mul', [xs!, `${w}.scale`]);
    return emit('Mul', [toFloat(acc!), scale!])[0]!;
  };

  for (const node of g.nodes) {
    const w = node.inputs[node.opType === 'Gather' ? 0 : 1];
    const use = w !== undefined && chosen.has(w) ? useOf(node, node.opType === 'Gather' ? 0 : 1) : null;
    if (!use) {
      nodes.push(node);
      continue;
    }
    const out = node.outputs[0]!;
    if (use.kind === 'gather') {
      // Gather the 8-bit rows and their scales, then dequantize just those rows.
      const ids = node.inputs[1]!;
      let rows = toFloat(emit('Gather', [`${w}.q`, ids])[0]!);
      if (unsigned)
        rows = emit('Sub', [
          rows,
          constant('f128', () => tensor(fresh('c128'), OnnxDataType.FLOAT, [], Float32Array.of(128))),
        ])[0]!;
      const [scales] = emit('Gather', [`${w}.scale`, ids]);
      nodes.push({
        opType: 'Mul',
        domain: '',
        name: fresh('n_Mul'),
        inputs: [rows, emit('Unsqueeze', [scales!, lastAxis()])[0]!],
        outputs: [out],
        attributes: [],
      });
      continue;
    }
    if (mode === 'weights') {
      const [deq] = once(`deq:${w}`, () =>
        emit('DequantizeLinear', [`${w}.q`, `${w}.scale`], 1, [{ name: 'axis', type: 'int', value: use.axis }]),
      );
      nodes.push({ ...node, inputs: node.inputs.map((x) => (x === w ? deq! : x)) });
      continue;
    }
    // Gemm with transB reads the weight as (N, K): MatMulInteger wants (K, N), so it gets a Transpose of
    // the 8-bit initializer, which onnxruntime folds into a constant when the session loads.
    let y = integerMatmul(node.inputs[0]!, w!, use.kind === 'gemm' && use.axis === 0);
    const bias = use.kind === 'gemm' ? node.inputs[2] : undefined;
    if (bias) y = emit('Add', [y, bias])[0]!;
    nodes.push({
      opType: 'Identity',
      domain: '',
      name: fresh('n_Identity'),
      inputs: [y],
      outputs: [out],
      attributes: [],
    });
  }

  const bytesBefore = [...chosen.keys()].reduce((s, n) => s + inits.get(n)!.rawData.byteLength, 0);
  const bytesAfter = [...chosen.values()].reduce((s, c) => s + c.q.byteLength + c.scale.byteLength, 0);
  return {
    model: {
      ...model,
      graph: { ...g, nodes, initializers: [...g.initializers.filter((t) => !chosen.has(t.name)), ...added] },
    },
    report: { quantized: [...chosen.keys()], bytesBefore, bytesAfter },
  };
}
