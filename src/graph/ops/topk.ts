// The k largest entries along the last axis, as two ops over one ONNX TopK node (its values and
// its indices). onnxruntime's common-subexpression pass merges the two identical TopK nodes.
import { ndarray, type NDArray } from '../ndarray.ts';
import type { OpDef, TypeInfo } from '../op.ts';
import { ShapeError } from '../shape.ts';
import { apply, type Tensor } from '../tensor.ts';

interface TopKAttrs {
  k: number;
}

/** Per lane: indices of the k largest values, largest first, ties to the lower index (ONNX's rule). */
function topKRef(x: NDArray, k: number): { values: number[]; indices: number[] } {
  const n = x.shape[x.shape.length - 1]!;
  const values: number[] = [],
    indices: number[] = [];
  for (let base = 0; base < x.data.length; base += n) {
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => x.data[base + b]! - x.data[base + a]! || a - b);
    for (let j = 0; j < k; j++) {
      indices.push(idx[j]!);
      values.push(x.data[base + idx[j]!]!);
    }
  }
  return { values, indices };
}

function inferTopK(x: Tensor, { k }: TopKAttrs, dtype: TypeInfo['dtype']): TypeInfo {
  const n = x.shape[x.rank - 1]!;
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new ShapeError('topK', `k must be an integer in 1..${n} for a last axis of ${n}, got ${k}`);
  return { shape: [...x.shape.slice(0, -1), k], dtype };
}

const lowerTopK =
  (output: 0 | 1): OpDef<TopKAttrs>['lower'] =>
  (ctx, [x], { k }) =>
    ctx.emit(
      'TopK',
      [x!, ctx.int64s([k])],
      { axis: { int: -1 }, largest: { int: 1 }, sorted: { int: 1 } },
      { outputs: 2 },
    )[output]!;

export const topKValuesOp: OpDef<TopKAttrs> = {
  name: 'topKValues',
  infer: ([x], a) => inferTopK(x!, a, x!.dtype),
  ref: ([x], { k }, out) => ndarray(out.shape, out.dtype, topKRef(x!, k).values),
  // The values are entries of x: their gradient lands back where they came from.
  grad: null,
  lower: lowerTopK(0),
};

export const topKIndicesOp: OpDef<TopKAttrs> = {
  name: 'topKIndices',
  infer: ([x], a) => inferTopK(x!, a, 'int64'),
  ref: ([x], { k }, out) => ndarray(out.shape, out.dtype, topKRef(x!, k).indices),
  grad: null,
  lower: lowerTopK(1),
};

/** The k largest values along the last axis and their int64 indices, largest first. */
export function topK(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  return { values: apply(topKValuesOp, [x], { k }), indices: apply(topKIndicesOp, [x], { k }) };
}
