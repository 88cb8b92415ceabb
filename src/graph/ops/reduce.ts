// Reductions over a set of axes, and `sumToShape`, which undoes broadcasting in gradient rules.
// Axes are known at trace time, so every reduction's axes are constants in the ONNX graph.
import { isFloat } from '../dtype.ts';
import { castValue, ndarray, sizeOf, stridesOf, type NDArray } from '../ndarray.ts';
import type { GradArgs, OpDef } from '../op.ts';
import { normalizeAxes, ShapeError } from '../shape.ts';
import { apply, type Tensor } from '../tensor.ts';
import { cast, div, equal, mul } from './elementwise.ts';
import { expand, reshape } from './shape-ops.ts';

export interface ReduceAttrs {
  /** Sorted, non-negative axes. */
  axes: number[];
  keepDims: boolean;
}

function reducedShape(shape: readonly number[], { axes, keepDims }: ReduceAttrs): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

function reduceRef(
  x: NDArray,
  attrs: ReduceAttrs,
  init: number,
  step: (acc: number, v: number) => number,
  finish: (acc: number, n: number) => number,
): NDArray {
  const keptShape = x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
  const outStrides = stridesOf(keptShape);
  const inStrides = stridesOf(x.shape);
  const n = sizeOf(keptShape);
  const acc = new Float64Array(n).fill(init);
  const total = x.data.length;
  for (let i = 0; i < total; i++) {
    let o = 0;
    for (let d = 0; d < x.shape.length; d++) {
      if (keptShape[d] !== 1) o += (Math.floor(i / inStrides[d]!) % x.shape[d]!) * outStrides[d]!;
    }
    acc[o] = step(acc[o]!, x.data[i]!);
  }
  const count = attrs.axes.reduce((p, a) => p * x.shape[a]!, 1);
  const out = ndarray(reducedShape(x.shape, attrs), x.dtype);
  // Stored as the dtype would hold it: an int64 mean truncates, as onnxruntime's does.
  for (let i = 0; i < n; i++) out.data[i] = castValue(finish(acc[i]!, count), x.dtype);
  return out;
}

/** Brings a reduced gradient back to the input's shape. */
function spread(g: Tensor, x: Tensor, attrs: ReduceAttrs): Tensor {
  const kept = x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
  return expand(reshape(g, kept), x.shape);
}

function reduceDef(
  name: string,
  onnx: string,
  ref: (x: NDArray, a: ReduceAttrs) => NDArray,
  grad: (a: GradArgs<ReduceAttrs>) => Tensor,
): OpDef<ReduceAttrs> {
  return {
    name,
    infer([x], attrs) {
      for (const a of attrs.axes)
        if (a < 0 || a >= x!.rank) throw new ShapeError(name, `axis ${a} out of range for rank ${x!.rank}`);
      return { shape: reducedShape(x!.shape, attrs), dtype: x!.dtype };
    },
    ref: ([x], attrs) => ref(x!, attrs),
    grad: (args) => [isFloat(args.inputs[0]!.dtype) ? grad(args) : null],
    // ONNX reads an empty axes list as "all axes" unless noop_with_empty_axes is set; here it means none.
    lower: (ctx, [x], { axes, keepDims }) =>
      ctx.op(onnx, [x!, ctx.int64s(axes)], {
        keepdims: { int: keepDims ? 1 : 0 },
        ...(axes.length === 0 ? { noop_with_empty_axes: { int: 1 } } : {}),
      }),
  };
}

export const reduceOps = {
  reduceSum: reduceDef(
    'reduceSum',
    'ReduceSum',
    (x, a) =>
      reduceRef(
        x,
        a,
        0,
        (s, v) => s + v,
        (s) => s,
      ),
    ({ g, inputs: [x], attrs }) => spread(g, x!, attrs),
  ),
  reduceMean: reduceDef(
    'reduceMean',
    'ReduceMean',
    (x, a) =>
      reduceRef(
        x,
        a,
        0,
        (s, v) => s + v,
        (s, n) => s / n,
      ),
    ({ g, inputs: [x], attrs }) =>
      div(
        spread(g, x!, attrs),
        attrs.axes.reduce((p, a) => p * x!.shape[a]!, 1),
      ),
  ),
  reduceMax: reduceDef(
    'reduceMax',
    'ReduceMax',
    (x, a) => reduceRef(x, a, -Infinity, Math.max, (s) => s),
    ({ g, inputs: [x], out, attrs }) => {
      // Ties share the gradient equally, as the subgradient that keeps sums exact.
      // cast, not where(…, 1, 0): two plain numbers would lift to float32 whatever x's dtype.
      const hit = cast(equal(x!, spread(out, x!, attrs)), x!.dtype);
      const count = spread(reduceSum(hit, attrs.axes, true), x!, { ...attrs, keepDims: true });
      return mul(spread(g, x!, attrs), div(hit, count));
    },
  ),
} satisfies Record<string, OpDef<ReduceAttrs>>;

const reducer =
  (def: OpDef<ReduceAttrs>) =>
  (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor =>
    apply(def, [x], { axes: normalizeAxes(def.name, typeof axes === 'number' ? [axes] : axes, x.rank), keepDims });

export const reduceSum = reducer(reduceOps.reduceSum);
export const reduceMean = reducer(reduceOps.reduceMean);
export const reduceMax = reducer(reduceOps.reduceMax);

/** Sums `g` down to `shape`, undoing numpy broadcasting (leading dims dropped, size-1 dims kept). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? reduceSum(g, axes, true) : g;
  return reshape(summed, shape);
}
