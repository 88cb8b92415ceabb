// 4-bit block quantization of an exported graph (onnx-community's model_q4.onnx): every weight
// matrix a MatMul or Gemm multiplies by becomes com.microsoft.MatMulNBits, 4-bit values in blocks
// of `blockSize` (default 32) along the input dimension, one float scale per block and the default
// zero point 8: w = (q − 8) · scale. Blocks are quantized as ggml's Q4_0 is: the scale maps the
// value of largest magnitude to −8, so both signs keep their full range. onnxruntime runs
// MatMulNBits in its CPU provider (node) and in onnxruntime-web's wasm and WebGPU backends.
//
// accuracy_level (MatMulNBits' attribute) picks the compute type of the product: 0 (default here)
// and 1 compute in fp32 from the dequantized weights, the most accurate; 4 quantizes activations to
// int8 per block and uses integer dot products, faster on x86 and ARM at some cost in accuracy.
//
// The embedding table (a Gather) is not a product input: it keeps 8-bit rows (quantize.ts), which
// also holds a tied output head's weights at 8 bits. An untied output head is a MatMul/Gemm and
// goes to 4 bits like the rest; the size/quality rows in BENCHMARKS.md show what that costs.
import { tensorToTypedArray } from '../onnx/index.ts';
import { OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/model.ts';
import { quantizeInt8 } from './quantize.ts';

export interface Q4Options {
  /** Values per block along K (default 32; a power of two ≥ 16). */
  blockSize?: number;
  /** MatMulNBits' accuracy_level (default 0: fp32 compute). */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
}

export interface Q4Report {
  /** Weights now 4-bit. */
  quantized: string[];
  /** Weights now 8-bit (embedding tables). */
  int8: string[];
}

const attr = (n: OnnxNode, name: string): number | undefined => {
  const a = n.attributes.find((x) => x.name === name);
  return a && (a.type === 'int' || a.type === 'float') ? a.value : undefined;
};

/** How a weight enters a product: the node, and whether it is stored (N, K) (Gemm transB) rather than (K, N). */
function productUse(node: OnnxNode, slot: number): { nk: boolean } | null {
  if (slot !== 1) return null;
  if (node.opType === 'MatMul') return { nk: false };
  if (
    node.opType === 'Gemm' &&
    !attr(node, 'transA') &&
    (attr(node, 'alpha') ?? 1) === 1 &&
    (attr(node, 'beta') ?? 1) === 1
  ) {
    return { nk: attr(node, 'transB') === 1 };
  }
  return null;
}

/** (N, K) row-major weights as MatMulNBits' B [N, blocks, blockSize / 2] and scales [N · blocks]. */
export function packQ4(
  w: Float32Array,
  n: number,
  k: number,
  blockSize: number,
): { packed: Uint8Array; scales: Float32Array } {
  const blocks = Math.ceil(k / blockSize);
  const packed = new Uint8Array(n * blocks * (blockSize / 2));
  const scales = new Float32Array(n * blocks);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      let max = 0;
      for (let j = 0; j < blockSize; j++) {
        const c = b * blockSize + j;
        const v = c < k ? w[r * k + c]! : 0;
        if (Math.abs(v) > Math.abs(max)) max = v;
      }
      const d = max / -8;
      const id = d ? 1 / d : 0;
      scales[r * blocks + b] = d;
      for (let j = 0; j < blockSize; j += 2) {
        const q = (c: number) => (c < k ? Math.max(0, Math.min(15, Math.round(w[r * k + c]! * id) + 8)) : 8);
        packed[(r * blocks + b) * (blockSize / 2) + j / 2] = q(b * blockSize + j) | (q(b * blockSize + j + 1) << 4);
      }
    }
  }
  return { packed, scales };
}

/** Returns a new model with 4-bit product weights and 8-bit embedding tables. */
export function quantizeQ4(model: OnnxModel, o: Q4Options = {}): { model: OnnxModel; report: Q4Report } {
  const blockSize = o.blockSize ?? 32;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
    throw new Error(`q4: blockSize must be a power of two of at least 16, got ${blockSize}`);
  const g = model.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, ({ nk: boolean } | null)[]>();
  for (const node of g.nodes)
    node.inputs.forEach((name, slot) => {
      if (inits.has(name)) uses.set(name, [...(uses.get(name) ?? []), productUse(node, slot)]);
    });
  const outputs = new Set(g.outputs.map((v) => v.name));
  const chosen = new Map<string, { n: number; k: number; nk: boolean }>();
  for (const [name, us] of uses) {
    const t = inits.get(name)!;
    if (t.dataType !== OnnxDataType.FLOAT || t.dims.length !== 2 || outputs.has(name)) continue;
    if (us.some((u) => u === null) || new Set(us.map((u) => u!.nk)).size !== 1) continue;
    const nk = us[0]!.nk;
    const [rows, cols] = t.dims as [number, number];
    chosen.set(name, nk ? { n: rows, k: cols, nk } : { n: cols, k: rows, nk });
  }

  const added: OnnxTensor[] = [];
  const raw = (a: Uint8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const [name, c] of chosen) {
    const w = tensorToTypedArray(inits.get(name)!) as Float32Array;
    // MatMul's (K, N) weight is transposed to the (N, K) rows MatMulNBits blocks along K.
    const nkRows = c.nk
      ? w
      : Float32Array.from({ length: c.n * c.k }, (_, i) => w[(i % c.k) * c.n + Math.floor(i / c.k)]!);
    const { packed, scales } = packQ4(nkRows, c.n, c.k, blockSize);
    const blocks = Math.ceil(c.k / blockSize);
    added.push({
      name: `${name}.q4`,
      dataType: OnnxDataType.UINT8,
      dims: [c.n, blocks, blockSize / 2],
      rawData: raw(packed),
    });
    added.push({ name: `${name}.q4_scales`, dataType: OnnxDataType.FLOAT, dims: [c.n * blocks], rawData: raw(scales) });
  }

  let counter = 0;
  const nodes: OnnxNode[] = [];
  for (const node of g.nodes) {
    const w = node.inputs[1];
    const c = w !== undefined ? chosen.get(w) : undefined;
    if (!c || !productUse(node, 1)) {
      nodes.push(node);
      continue;
    }
    const attributes: OnnxAttribute[] = [
      { name: 'K', type: 'int', value: c.k },
      { name: 'N', type: 'int', value: c.n },
      { name: 'bits', type: 'int', value: 4 },
      { name: 'block_size', type: 'int', value: blockSize },
      { name: 'accuracy_level', type: 'int', value: o.accuracyLevel ?? 0 },
    ];
    const bias = node.opType === 'Gemm' ? node.inputs[2] : undefined;
    const out = node.outputs[0]!;
    const y = bias ? `q4_${counter++}_${out}` : out;
    nodes.push({
      opType: 'MatMulNBits',
      domain: 'com.microsoft',
      name: `q4_${counter++}`,
      inputs: [node.inputs[0]!, `${w}.q4`, `${w}.q4_scales`],
      outputs: [y],
      attributes,
    });
    if (bias)
      nodes.push({
        opType: 'Add',
        domain: '',
        name: `q4_${counter++}`,
        inputs: [y, bias],
        outputs: [out],
        attributes: [],
      });
  }
  const opsetImports = model.opsetImports.some((i) => i.domain === 'com.microsoft')
    ? model.opsetImports
    : [...model.opsetImports, { domain: 'com.microsoft', version: 1 }];
  const q4: OnnxModel = {
    ...model,
    opsetImports,
    graph: { ...g, nodes, initializers: [...g.initializers.filter((t) => !chosen.has(t.name)), ...added] },
  };
  // What is left of the float matrices (embedding tables) goes to 8 bits, dequantized per gathered row.
  const int8 = quantizeInt8(q4, { mode: 'weights' });
  return { model: int8.model, report: { quantized: [...chosen.keys()], int8: int8.report.quantized } };
}
