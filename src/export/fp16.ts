// fp16 export (onnx-community's model_fp16.onnx): every float32 weight, constant and intermediate
// value becomes float16, so the file is half the size and runtimes with fp16 kernels (WebGPU, ARM)
// compute in half precision; onnxruntime's CPU provider runs it too. The graph's float inputs and
// outputs (past keys/values, logits, present) stay float32, as transformers.js feeds and reads
// them: a Cast to fp16 after each float input and a Cast back before each float output.
import { float32ToF16Bits } from '../models/checkpoint/float16.ts';
import { tensorToTypedArray } from '../onnx/index.ts';
import { OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/model.ts';

const F32 = OnnxDataType.FLOAT;
const F16 = OnnxDataType.FLOAT16;

/** fp16's largest finite value: constants beyond it (attention masks' −1e9) are clamped, not turned to ±inf. */
const F16_MAX = 65504;

function half(t: OnnxTensor): OnnxTensor {
  if (t.dataType !== F32) return t;
  // An all-masked row of −inf scores would softmax to NaN, where −65504 gives the uniform row fp32 gives.
  const values = Float32Array.from(tensorToTypedArray(t) as Float32Array, (v) =>
    Math.max(-F16_MAX, Math.min(F16_MAX, v)),
  );
  const bits = float32ToF16Bits(values);
  return { ...t, dataType: F16, rawData: new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength) };
}

function halfAttribute(n: OnnxNode, a: OnnxAttribute): OnnxAttribute {
  // Casts to float32 now cast to float16; constant tensors (Constant, ConstantOfShape) become fp16.
  if ((n.opType === 'Cast' || n.opType === 'CastLike') && a.name === 'to' && a.type === 'int' && a.value === F32)
    return { ...a, value: F16 };
  if (a.type === 'tensor') return { ...a, value: half(a.value) };
  return a;
}

export function toFloat16(model: OnnxModel): OnnxModel {
  const g = model.graph;
  const cast = (name: string, input: string, output: string, to: number): OnnxNode => ({
    opType: 'Cast',
    domain: '',
    name,
    inputs: [input],
    outputs: [output],
    attributes: [{ name: 'to', type: 'int', value: to }],
  });
  const floatInputs = new Set(g.inputs.filter((v) => v.elemType === F32).map((v) => v.name));
  const floatOutputs = new Set(g.outputs.filter((v) => v.elemType === F32).map((v) => v.name));
  // Inside the graph every float value is its fp16 twin: float inputs through a Cast, float outputs
  // produced under a new name and cast back (consumers inside the graph read the fp16 one).
  const inner = (x: string) => (floatInputs.has(x) || floatOutputs.has(x) ? `${x}.fp16` : x);
  const nodes: OnnxNode[] = [...floatInputs].map((x) => cast(`fp16_in_${x}`, x, `${x}.fp16`, F16));
  for (const n of g.nodes) {
    nodes.push({
      ...n,
      inputs: n.inputs.map((x) => (x ? inner(x) : x)),
      outputs: n.outputs.map((x) => (x ? inner(x) : x)),
      attributes: n.attributes.map((a) => halfAttribute(n, a)),
    });
  }
  for (const x of floatOutputs) nodes.push(cast(`fp16_out_${x}`, `${x}.fp16`, x, F32));
  return {
    ...model,
    // Recorded float types no longer hold; onnxruntime infers the rest.
    graph: { ...g, nodes, initializers: g.initializers.map(half), valueInfo: [] },
  };
}
