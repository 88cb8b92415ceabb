// A body graph run over the rows of its inputs in chunks, as one ONNX Loop: what lets a loss over a
// (positions × vocabulary) matrix run without that matrix existing whole. Each iteration slices C
// rows of the `sliced` inputs, reads the `shared` ones whole, adds the body's `sums` into
// accumulators and writes its `scans` (C rows each) into outputs of N rows. onnxruntime frees an
// iteration's intermediates before the next one starts, so peak memory holds one chunk's.
//
// Three ops work together:
// - chunkLoop runs the loop; its value is every output packed flat (what the reference kernel
//   computes), but only loopOutput may read it;
// - loopOutput(loop, i) is the i-th output (sums first, then scans), which in ONNX is simply the
//   Loop node's i-th output name;
// - attachGrad(value, xs, vs) is `value`, with ∂value/∂xs[i] declared to be vs[i]: a loop that
//   computes its own gradients (the body's reverse pass, traced by autodiff/chunked.ts) hands
//   them to autodiff this way, so the chunk's logits are never kept for a backward pass.
//   attachGradRule does the same with a rule that builds the gradients when autodiff asks (a
//   closed-form gradient, which should cost nothing in a forward-only graph).
// chunkLoop and loopOutput have no gradient rule: gradients reach the inputs through attachGrad.
import { evaluateRef } from '../evaluate.ts';
import { isFloat } from '../dtype.ts';
import { ndarray, sizeOf, type NDArray } from '../ndarray.ts';
import type { LowerCtx, OpDef } from '../op.ts';
import { fmt, ShapeError } from '../shape.ts';
import { apply, type Tensor } from '../tensor.ts';
import { mul } from './elementwise.ts';

export interface ChunkLoopAttrs {
  /** Rows per chunk (C); it divides `rows`. */
  chunk: number;
  /** Rows of every sliced input (N). */
  rows: number;
  /** Body leaves standing for C rows of each sliced input: [C, ...rest]. */
  sliced: readonly Tensor[];
  /** Body leaves standing for each shared input, whole. */
  shared: readonly Tensor[];
  /** Body values summed over the chunks (any shape). */
  sums: readonly Tensor[];
  /** Body values of C rows, stacked over the chunks into N rows. */
  scans: readonly Tensor[];
}

const outShapes = (a: ChunkLoopAttrs): number[][] => [
  ...a.sums.map((s) => [...s.shape]),
  ...a.scans.map((s) => [a.rows, ...s.shape.slice(1)]),
];

/** Slices chunk c's rows of x (N, ...) as an NDArray of C rows. */
function rowsOf(x: NDArray, c: number, chunk: number): NDArray {
  const row = sizeOf(x.shape.slice(1));
  return ndarray([chunk, ...x.shape.slice(1)], x.dtype, x.data.subarray(c * chunk * row, (c + 1) * chunk * row));
}

export const chunkLoopOp: OpDef<ChunkLoopAttrs> = {
  name: 'chunkLoop',
  infer(inputs, a) {
    const n = a.sliced.length;
    if (inputs.length !== n + a.shared.length)
      throw new ShapeError(
        'chunkLoop',
        `expects ${n} sliced and ${a.shared.length} shared inputs, got ${inputs.length}`,
      );
    if (a.chunk <= 0 || a.rows % a.chunk !== 0)
      throw new ShapeError('chunkLoop', `chunks of ${a.chunk} rows do not divide ${a.rows} rows`);
    inputs.forEach((x, i) => {
      const leaf = i < n ? a.sliced[i]! : a.shared[i - n]!;
      const want = i < n ? [a.rows, ...leaf.shape.slice(1)] : leaf.shape;
      if ((i < n && leaf.shape[0] !== a.chunk) || fmt(x.shape) !== fmt(want) || x.dtype !== leaf.dtype)
        throw new ShapeError(
          'chunkLoop',
          `input ${i} is ${x.dtype}${fmt(x.shape)}, its body leaf needs ${leaf.dtype}${fmt(want)}`,
        );
    });
    const outs = [...a.sums, ...a.scans];
    const dtype = outs[0]?.dtype;
    if (!dtype || !isFloat(dtype) || outs.some((o) => o.dtype !== dtype))
      throw new ShapeError('chunkLoop', 'the body needs at least one output, all of one float dtype');
    if (a.scans.some((s) => s.shape[0] !== a.chunk))
      throw new ShapeError('chunkLoop', `every scan output must have the chunk's ${a.chunk} rows first`);
    return { shape: [outShapes(a).reduce((t, s) => t + sizeOf(s), 0)], dtype };
  },
  ref(inputs, a, out) {
    const n = a.sliced.length;
    const shapes = outShapes(a);
    const res = ndarray(out.shape, out.dtype);
    const offsets = shapes.map((_, i) => shapes.slice(0, i).reduce((t, s) => t + sizeOf(s), 0));
    for (let c = 0; c < a.rows / a.chunk; c++) {
      const leaves = new Map<Tensor, NDArray>();
      a.sliced.forEach((leaf, i) => leaves.set(leaf, rowsOf(inputs[i]!, c, a.chunk)));
      a.shared.forEach((leaf, i) => leaves.set(leaf, inputs[n + i]!));
      const values = evaluateRef([...a.sums, ...a.scans], leaves);
      values.forEach((v, i) => {
        if (i < a.sums.length) for (let k = 0; k < v.data.length; k++) res.data[offsets[i]! + k]! += v.data[k]!;
        else res.data.set(v.data, offsets[i]! + c * v.data.length);
      });
    }
    return res;
  },
  grad: null,
  lower(ctx, inputs, a) {
    const n = a.sliced.length;
    const dtype = (a.sums[0] ?? a.scans[0])!.dtype;
    const zeros = (shape: readonly number[]) =>
      ctx.op('ConstantOfShape', [ctx.int64s(shape)], { value: { tensor: ndarray([1], dtype, [0]) } });
    const iter = `${inputs[0]}.iter`;
    const condIn = `${inputs[0]}.cond`;
    const accIn = a.sums.map((_, i) => `${inputs[0]}.acc${i}`);
    const body = ctx.subgraph({
      inputs: [
        { name: iter, dtype: 'int64', shape: [] },
        { name: condIn, dtype: 'bool', shape: [] },
        ...a.sums.map((s, i) => ({ name: accIn[i]!, dtype, shape: s.shape })),
      ],
      build(sub, lower) {
        const start = sub.op('Unsqueeze', [sub.op('Mul', [iter, sub.scalar(a.chunk, 'int64')]), sub.int64s([0])]);
        const end = sub.op('Add', [start, sub.int64s([a.chunk])]);
        const bound = new Map<Tensor, string>();
        a.sliced.forEach((leaf, i) => bound.set(leaf, sub.op('Slice', [inputs[i]!, start, end, sub.int64s([0])])));
        a.shared.forEach((leaf, i) => bound.set(leaf, inputs[n + i]!));
        const parts = a.sums.map((s) => (gemmSum(s) ? [...s.inputs] : [s]));
        const names = lower([...parts.flat(), ...a.scans], bound);
        let at = 0;
        const sumOuts = a.sums.map((s, i) => {
          const operands = names.slice(at, (at += parts[i]!.length));
          return { name: accumulate(sub, accIn[i]!, s, operands), dtype, shape: s.shape };
        });
        return [
          { name: sub.op('Identity', [condIn]), dtype: 'bool', shape: [] },
          ...sumOuts,
          ...a.scans.map((s, j) => ({ name: names[at + j]!, dtype, shape: s.shape })),
        ];
      },
    });
    const outs = ctx.emit(
      'Loop',
      [ctx.scalar(a.rows / a.chunk, 'int64'), ctx.scalar(1, 'bool'), ...a.sums.map((s) => zeros(s.shape))],
      { body: { graph: body } },
      { outputs: a.sums.length + a.scans.length },
    );
    loopOutputs(ctx).set(outs[0]!, outs);
    return outs[0]!;
  },
};

/** A sum the body adds by Gemm itself: a 2-D matmul (a weight gradient), whose operands are lowered instead of it. */
const gemmSum = (t: Tensor) => t.def?.name === 'matmul' && t.inputs.every((x) => x.rank === 2);

/**
 * acc + value, in the body. A 2-D matmul's result is added by Gemm itself (C input, beta 1), so a
 * weight gradient accumulates in one pass over the (V, D) accumulator instead of a product then an
 * add: at a 150k vocabulary that add would cost as much memory traffic as the product.
 */
function accumulate(sub: LowerCtx, acc: string, value: Tensor, operands: string[]): string {
  if (!gemmSum(value)) return sub.op('Add', [acc, operands[0]!]);
  const { transA, transB } = value.attrs as { transA: boolean; transB: boolean };
  return sub.op('Gemm', [operands[0]!, operands[1]!, acc], {
    transA: { int: transA ? 1 : 0 },
    transB: { int: transB ? 1 : 0 },
    beta: { float: 1 },
  });
}

/** The names of each Loop node's outputs, by its first output, per lowering context. */
const outputsByCtx = new WeakMap<LowerCtx, Map<string, string[]>>();
function loopOutputs(ctx: LowerCtx): Map<string, string[]> {
  let m = outputsByCtx.get(ctx);
  if (!m) outputsByCtx.set(ctx, (m = new Map()));
  return m;
}

export interface LoopOutputAttrs {
  index: number;
  /** Where this output starts in the loop's packed value (the reference kernel's view). */
  offset: number;
  /** A scan output (N rows stacked from the chunks) rather than a sum. */
  scan: boolean;
}

export const loopOutputOp: OpDef<LoopOutputAttrs> = {
  name: 'loopOutput',
  infer([loop], { index }) {
    if (loop!.def !== chunkLoopOp) throw new ShapeError('loopOutput', `reads a chunkLoop's outputs, not ${loop}`);
    const shapes = outShapes(loop!.attrs as ChunkLoopAttrs);
    if (index < 0 || index >= shapes.length)
      throw new ShapeError('loopOutput', `the loop has ${shapes.length} outputs, not an output ${index}`);
    return { shape: shapes[index]!, dtype: loop!.dtype };
  },
  ref: ([packed], { offset }, out) =>
    ndarray(out.shape, out.dtype, packed!.data.subarray(offset, offset + sizeOf(out.shape))),
  grad: null,
  lower(ctx, [loop], { index, scan }, out) {
    const names = loopOutputs(ctx).get(loop!);
    if (!names) throw new Error(`loopOutput: '${loop}' is not the first output of a Loop lowered in this graph`);
    // Scan outputs come out as (chunks, C, ...): one reshape (free) gives the N rows.
    return scan ? ctx.op('Reshape', [names[index]!, ctx.int64s(out.shape)]) : names[index]!;
  },
};

/** Runs the body over chunks of rows; returns its outputs (sums, then scans) as tensors. */
export function chunkLoop(
  inputs: { sliced: readonly Tensor[]; shared: readonly Tensor[] },
  a: ChunkLoopAttrs,
): Tensor[] {
  const loop = apply(chunkLoopOp, [...inputs.sliced, ...inputs.shared], a);
  let offset = 0;
  return outShapes(a).map((shape, index) => {
    const out = apply(loopOutputOp, [loop], { index, offset, scan: index >= a.sums.length });
    offset += sizeOf(shape);
    return out;
  });
}

export interface AttachGradAttrs {
  /**
   * Builds ∂value/∂xs from the incoming gradient g (a scalar), when autodiff asks: the gradient
   * nodes join the graph only then, and only those of the xs on a path to what is differentiated.
   */
  rule: (g: Tensor) => readonly Tensor[];
}

export const attachGradOp: OpDef<AttachGradAttrs> = {
  name: 'attachGrad',
  infer([value]) {
    if (value!.size !== 1) throw new ShapeError('attachGrad', `the value must be a scalar, got ${fmt(value!.shape)}`);
    return { shape: [...value!.shape], dtype: value!.dtype };
  },
  ref: ([value]) => value!,
  grad: ({ g, inputs, attrs }) => {
    const xs = inputs.slice(1);
    const gs = attrs.rule(g);
    if (gs.length !== xs.length)
      throw new ShapeError('attachGrad', `the rule returned ${gs.length} gradients for ${xs.length} tensors`);
    return [null, ...gs];
  },
  lower: (ctx, [value]) => ctx.op('Identity', [value!]),
};

/**
 * `value` (a scalar) whose gradient with respect to xs[i] is the rule's i-th tensor, built from the
 * incoming gradient g. Autodiff does not look inside `value`: its own graph is only evaluated.
 */
export const attachGradRule = (value: Tensor, xs: readonly Tensor[], rule: AttachGradAttrs['rule']): Tensor =>
  apply(attachGradOp, [value, ...xs], { rule });

/** `value` (a scalar) whose gradient with respect to xs[i] is vs[i] (times the incoming gradient). */
export function attachGrad(value: Tensor, xs: readonly Tensor[], vs: readonly Tensor[]): Tensor {
  if (vs.length !== xs.length) throw new ShapeError('attachGrad', `expects ${xs.length} gradients, got ${vs.length}`);
  xs.forEach((x, i) => {
    if (fmt(x.shape) !== fmt(vs[i]!.shape))
      throw new ShapeError('attachGrad', `gradient ${i} is ${fmt(vs[i]!.shape)}, its tensor ${fmt(x.shape)}`);
  });
  return attachGradRule(value, xs, (g) => vs.map((v) => mul(v, g)));
}
