// Op test cases as data (as onnxruntime's js/ op tests are): each row names an op of `allOps`,
// the inputs it is fed and a function that builds the graph. The same rows drive the
// onnxruntime-vs-reference comparison (src/runtime/ops.test.ts), the finite-difference
// gradient checks (src/autodiff/grad.test.ts) and the coverage check that every op has a case
// (cases.test.ts). A new op needs rows here, or cases.test.ts fails.
//
// Builds must stay dtype-generic (no hard-coded 'float32' for float outputs): the gradient
// checks rerun every float input in float64.
import type { DType } from '../dtype.ts';
import { ndarray } from '../ndarray.ts';
import { constant, input, type Tensor } from '../tensor.ts';
import {
  abs,
  add,
  cast,
  div,
  equal,
  erf,
  exp,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  logicalNot,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sqrt,
  stopGradient,
  sub,
  tanh,
  where,
} from './elementwise.ts';
import { attachGrad, chunkLoop } from './chunk-loop.ts';
import { matmul } from './matmul.ts';
import {
  addAtLastAxis,
  causalMask,
  crossEntropy,
  dropout,
  gather,
  gelu,
  layerNorm,
  logSoftmax,
  oneHot,
  rmsNorm,
  scatterAddRows,
  softmax,
} from './nn.ts';
import { reduceMax, reduceMean, reduceSum } from './reduce.ts';
import { topK } from './topk.ts';
import { concat, expand, pad, reshape, slice, split, swapAxes, transpose } from './shape-ops.ts';

/**
 * How an input's values are drawn:
 * - 'float': ±[0.1, 2], kept away from 0 so relu/abs/division have no kink or pole within a finite-difference step;
 * - 'positive': [0.5, 2] (log, sqrt, pow bases);
 * - 'ids': integers in [0, max);
 * - 'bool': 0 or 1;
 * - 'labels': integers in [0, max), about a third replaced by -100 (the ignore index; the first is always kept,
 *   the second always ignored).
 */
export type InputKind = 'float' | 'positive' | 'ids' | 'bool' | 'labels';

export interface CaseInput {
  shape: number[];
  dtype: DType;
  /** Defaults to 'float' for float dtypes, 'ids' for integers, 'bool' for bool. */
  kind?: InputKind;
  /** Exclusive upper bound for 'ids' and 'labels'. */
  max?: number;
}

export interface OpCase {
  /** A key of `allOps`; the built graph must contain that op. */
  op: string;
  /** Unique within the op. */
  name: string;
  inputs: CaseInput[];
  build: (...xs: Tensor[]) => Tensor;
  /** Finite-difference settings where the defaults (eps 1e-6, tol 1e-5) do not fit; say why. */
  gradcheck?: { eps?: number; tol?: number };
}

// ---------------------------------------------------------------- input shorthands
const f = (...shape: number[]): CaseInput => ({ shape, dtype: 'float32', kind: 'float' });
const pos = (...shape: number[]): CaseInput => ({ shape, dtype: 'float32', kind: 'positive' });
const ids = (max: number, ...shape: number[]): CaseInput => ({ shape, dtype: 'int64', kind: 'ids', max });
const ids32 = (max: number, ...shape: number[]): CaseInput => ({ shape, dtype: 'int32', kind: 'ids', max });
const bool = (...shape: number[]): CaseInput => ({ shape, dtype: 'bool', kind: 'bool' });
const labels = (max: number, ...shape: number[]): CaseInput => ({ shape, dtype: 'int64', kind: 'labels', max });

/** A fixed constant of x's dtype (values 0.25, 0.5, ... cycling), for cases that need a non-fed operand. */
const fixed = (x: Tensor, shape: number[]): Tensor =>
  constant(
    ndarray(
      shape,
      x.dtype,
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.25 * ((i % 7) + 1)),
    ),
  );

type Un = (x: Tensor) => Tensor;
type Bin = (a: Tensor, b: Tensor) => Tensor;

// ---------------------------------------------------------------- elementwise
const unaryCases: OpCase[] = [
  { op: 'neg', name: 'float', inputs: [f(3, 4)], build: neg as Un },
  { op: 'neg', name: 'int64', inputs: [ids(10, 3, 4)], build: neg as Un },
  { op: 'abs', name: 'float', inputs: [f(3, 4)], build: abs as Un },
  { op: 'abs', name: 'int64 with negatives', inputs: [ids(10, 3, 4)], build: (x) => abs(sub(x, 5)) },
  { op: 'sign', name: 'float', inputs: [f(3, 4)], build: sign as Un },
  { op: 'sign', name: 'int64 with zeros', inputs: [ids(10, 3, 4)], build: (x) => sign(sub(x, 5)) },
  { op: 'exp', name: 'float', inputs: [f(3, 4)], build: exp as Un },
  { op: 'exp', name: 'wide range', inputs: [f(3, 4)], build: (x) => exp(mul(x, 4)) },
  { op: 'log', name: 'positive', inputs: [pos(3, 4)], build: log as Un },
  { op: 'sqrt', name: 'positive', inputs: [pos(3, 4)], build: sqrt as Un },
  { op: 'rsqrt', name: 'positive', inputs: [pos(3, 4)], build: rsqrt as Un },
  { op: 'reciprocal', name: 'float', inputs: [f(3, 4)], build: reciprocal as Un },
  { op: 'tanh', name: 'float', inputs: [f(3, 4)], build: tanh as Un },
  { op: 'tanh', name: 'saturating', inputs: [f(3, 4)], build: (x) => tanh(mul(x, 3)) },
  { op: 'erf', name: 'float', inputs: [f(3, 4)], build: erf as Un },
  // |2x| reaches 4: the reference kernel's continued-fraction branch (|x| >= 2.5).
  { op: 'erf', name: 'tails', inputs: [f(3, 4)], build: (x) => erf(mul(x, 2)) },
  { op: 'relu', name: 'float', inputs: [f(3, 4)], build: relu as Un },
  { op: 'sigmoid', name: 'float', inputs: [f(3, 4)], build: sigmoid as Un },
  { op: 'sigmoid', name: 'large magnitude', inputs: [f(3, 4)], build: (x) => sigmoid(mul(x, 10)) },
  { op: 'silu', name: 'float', inputs: [f(3, 4)], build: silu as Un },
];

/** Broadcasting pairs every binary op is run on: same shape, trailing vector, column, scalar-shaped, row vs column. */
const broadcastPairs: Array<[string, CaseInput, CaseInput]> = [
  ['same shape', f(2, 3, 4), f(2, 3, 4)],
  ['[2,3,4] with [4]', f(2, 3, 4), f(4)],
  ['[2,3,4] with [3,1]', f(2, 3, 4), f(3, 1)],
  ['[2,3,4] with []', f(2, 3, 4), f()],
  ['[1,4] with [3,1]', f(1, 4), f(3, 1)],
  ['[4] with [2,3,4]', f(4), f(2, 3, 4)],
];

const binaryFns: Record<string, Bin> = { add, sub, mul, div, maximum, minimum };
const binaryCases: OpCase[] = [
  ...Object.entries(binaryFns).flatMap(([op, fn]) =>
    broadcastPairs.map(([name, a, b]): OpCase => ({ op, name, inputs: [a, b], build: fn })),
  ),
  { op: 'add', name: 'number operand', inputs: [f(3, 4)], build: (x) => add(x, 0.5) },
  { op: 'add', name: 'int64', inputs: [ids(10, 3, 4), ids(10, 4)], build: add as Bin },
  { op: 'sub', name: 'number first', inputs: [f(3, 4)], build: (x) => sub(1, x) },
  { op: 'mul', name: 'same tensor twice', inputs: [f(3, 4)], build: (x) => mul(x, x) },
  { op: 'mul', name: 'int64', inputs: [ids(10, 3, 4), ids(10, 3, 1)], build: mul as Bin },
  { op: 'div', name: 'number numerator', inputs: [f(3, 4)], build: (x) => div(1, x) },
  {
    op: 'div',
    name: 'int64 truncates toward zero',
    inputs: [ids(10, 3, 4), ids(3, 4)],
    build: (a, b) => div(sub(a!, 5), add(b!, 1)),
  },
  { op: 'div', name: 'constant denominator', inputs: [f(3, 4)], build: (x) => div(x, 4) },
  { op: 'maximum', name: 'with a number', inputs: [f(3, 4)], build: (x) => maximum(x, 0) },
  { op: 'minimum', name: 'with a constant tensor', inputs: [f(3, 4)], build: (x) => minimum(x, fixed(x, [4])) },
  { op: 'pow', name: 'constant exponent 3 (any sign base)', inputs: [f(3, 4)], build: (x) => pow(x, 3) },
  { op: 'pow', name: 'constant exponent 0.5', inputs: [pos(3, 4)], build: (x) => pow(x, 0.5) },
  { op: 'pow', name: 'constant exponent -2', inputs: [pos(3, 4)], build: (x) => pow(x, -2) },
  { op: 'pow', name: 'tensor exponent, same shape', inputs: [pos(2, 3, 4), f(2, 3, 4)], build: pow as Bin },
  { op: 'pow', name: 'tensor exponent, [2,3] ** [3]', inputs: [pos(2, 3), f(3)], build: pow as Bin },
  { op: 'pow', name: 'tensor exponent, [3,4] ** []', inputs: [pos(3, 4), f()], build: pow as Bin },
  { op: 'pow', name: 'number base', inputs: [f(3, 4)], build: (x) => pow(2, x) },
];

const compareCases: OpCase[] = [
  { op: 'greater', name: '[2,3,4] with [4]', inputs: [f(2, 3, 4), f(4)], build: greater as Bin },
  { op: 'greater', name: 'with a number', inputs: [f(3, 4)], build: (x) => greater(x, 0) },
  { op: 'greaterEqual', name: 'int64 with ties', inputs: [ids(3, 3, 4), ids(3, 4)], build: greaterEqual as Bin },
  { op: 'greaterEqual', name: 'float', inputs: [f(3, 4), f(3, 1)], build: greaterEqual as Bin },
  { op: 'less', name: '[3,4] with []', inputs: [f(3, 4), f()], build: less as Bin },
  { op: 'less', name: 'int64 with ties', inputs: [ids(3, 3, 4), ids(3, 3, 4)], build: less as Bin },
  { op: 'lessEqual', name: 'int64 [3,1] with [1,4]', inputs: [ids(3, 3, 1), ids(3, 1, 4)], build: lessEqual as Bin },
  { op: 'lessEqual', name: 'float', inputs: [f(2, 3, 4), f(4)], build: lessEqual as Bin },
  { op: 'equal', name: 'int64 with ties', inputs: [ids(2, 3, 4), ids(2, 3, 4)], build: equal as Bin },
  { op: 'equal', name: 'float against itself', inputs: [f(3, 4)], build: (x) => equal(x, x) },
];

const selectCases: OpCase[] = [
  { op: 'where', name: 'same shapes', inputs: [bool(3, 4), f(3, 4), f(3, 4)], build: (c, a, b) => where(c!, a!, b!) },
  {
    op: 'where',
    name: 'cond [3,1], a [1,4], b []',
    inputs: [bool(3, 1), f(1, 4), f()],
    build: (c, a, b) => where(c!, a!, b!),
  },
  {
    op: 'where',
    name: 'cond [2,3,4], a [4], number b',
    inputs: [bool(2, 3, 4), f(4)],
    build: (c, a) => where(c!, a!, 0),
  },
  {
    op: 'where',
    name: 'int64 branches',
    inputs: [bool(3, 4), ids(9, 3, 4), ids(9, 4)],
    build: (c, a, b) => where(c!, a!, b!),
  },
  { op: 'add', name: 'causalMask, square', inputs: [f(2, 4, 4)], build: (x) => softmax(causalMask(x)) },
  {
    op: 'add',
    name: 'causalMask, 3 queries over 5 keys (aligned to the end)',
    inputs: [f(2, 3, 5)],
    build: (x) => softmax(causalMask(x)),
  },
  { op: 'where', name: 'dropout (executor-seeded noise)', inputs: [f(3, 4)], build: (x) => dropout(x, 0.5, 'case') },
  { op: 'logicalNot', name: 'bool', inputs: [bool(3, 4)], build: logicalNot as Un },
  { op: 'logicalNot', name: 'of a comparison', inputs: [f(3, 4)], build: (x) => logicalNot(greater(x, 0)) },
  {
    op: 'cast',
    name: 'float -> int64 -> float (truncates)',
    inputs: [f(3, 4)],
    build: (x) => cast(cast(mul(x, 3), 'int64'), x.dtype),
  },
  { op: 'cast', name: 'bool -> float', inputs: [f(3, 4)], build: (x) => mul(cast(greater(x, 0), x.dtype), x) },
  { op: 'cast', name: 'float -> bool', inputs: [f(3, 4)], build: (x) => cast(sub(x, fixed(x, [4])), 'bool') },
  { op: 'cast', name: 'int64 -> float32', inputs: [ids(50, 3, 4)], build: (x) => cast(x, 'float32') },
  {
    op: 'cast',
    name: 'int64 -> int32 -> int64',
    inputs: [ids(50, 3, 4)],
    build: (x) => cast(cast(x, 'int32'), 'int64'),
  },
  {
    op: 'cast',
    name: 'round trip through the other float type',
    inputs: [f(3, 4)],
    build: (x) => cast(cast(x, x.dtype === 'float64' ? 'float32' : 'float64'), x.dtype),
    // In float64 the trip rounds to float32 (ulp ~1e-7), which a 1e-6 step cannot see past.
    gradcheck: { eps: 1e-3, tol: 1e-3 },
  },
];

// ---------------------------------------------------------------- matmul
const mm =
  (transA: boolean, transB: boolean): Bin =>
  (a, b) =>
    matmul(a, b, { transA, transB });
const matmulCases: OpCase[] = [
  { op: 'matmul', name: 'int64', inputs: [ids(5, 2, 3), ids(5, 3, 2)], build: mm(false, false) },
  { op: 'matmul', name: '[3,4] @ [4,5]', inputs: [f(3, 4), f(4, 5)], build: mm(false, false) },
  { op: 'matmul', name: '[4,3]ᵀ @ [4,5]', inputs: [f(4, 3), f(4, 5)], build: mm(true, false) },
  { op: 'matmul', name: '[3,4] @ [5,4]ᵀ', inputs: [f(3, 4), f(5, 4)], build: mm(false, true) },
  { op: 'matmul', name: '[4,3]ᵀ @ [5,4]ᵀ', inputs: [f(4, 3), f(5, 4)], build: mm(true, true) },
  { op: 'matmul', name: 'batched [2,3,4] @ [2,4,5]', inputs: [f(2, 3, 4), f(2, 4, 5)], build: mm(false, false) },
  { op: 'matmul', name: 'batched [2,4,3]ᵀ @ [2,4,5]', inputs: [f(2, 4, 3), f(2, 4, 5)], build: mm(true, false) },
  { op: 'matmul', name: 'batched [2,3,4] @ [2,5,4]ᵀ', inputs: [f(2, 3, 4), f(2, 5, 4)], build: mm(false, true) },
  { op: 'matmul', name: 'batched [2,4,3]ᵀ @ [2,5,4]ᵀ', inputs: [f(2, 4, 3), f(2, 5, 4)], build: mm(true, true) },
  { op: 'matmul', name: '[2,3,4,5] @ [5,6]', inputs: [f(2, 3, 4, 5), f(5, 6)], build: mm(false, false) },
  { op: 'matmul', name: '[1,3,4,5] @ [2,1,5,6]', inputs: [f(1, 3, 4, 5), f(2, 1, 5, 6)], build: mm(false, false) },
  {
    op: 'matmul',
    name: '[3,4] @ [2,4,5] (rank-2 left operand)',
    inputs: [f(3, 4), f(2, 4, 5)],
    build: mm(false, false),
  },
  {
    op: 'matmul',
    name: '[2,1,5,4]ᵀ @ [3,2,5]ᵀ (batch broadcast)',
    inputs: [f(2, 1, 5, 4), f(3, 2, 5)],
    build: mm(true, true),
  },
  {
    op: 'matmul',
    name: '[2,3,4] @ [1,5,4]ᵀ (batch broadcast)',
    inputs: [f(2, 3, 4), f(1, 5, 4)],
    build: mm(false, true),
  },
  {
    op: 'matmul',
    name: '[1,4,3]ᵀ @ [2,4,5] (batch broadcast)',
    inputs: [f(1, 4, 3), f(2, 4, 5)],
    build: mm(true, false),
  },
];

// ---------------------------------------------------------------- reductions
type Red = (x: Tensor, axes?: number | readonly number[], keepDims?: boolean) => Tensor;
const reductionAxes: Array<[string, number | number[] | undefined, boolean]> = [
  ['axis 1', 1, false],
  ['axis -1, keepDims', -1, true],
  ['axes [0, 2]', [0, 2], false],
  ['axes [0, 2], keepDims', [0, 2], true],
  ['all axes', undefined, false],
  ['all axes, keepDims', undefined, true],
];
const reductions: Record<string, Red> = { reduceSum, reduceMean, reduceMax };
const reduceCases: OpCase[] = [
  ...Object.entries(reductions).flatMap(([op, fn]) =>
    reductionAxes.map(
      ([name, axes, keep]): OpCase => ({ op, name, inputs: [f(2, 3, 4)], build: (x) => fn(x, axes, keep) }),
    ),
  ),
  { op: 'reduceSum', name: 'int64, axis 0', inputs: [ids(10, 3, 4)], build: (x) => reduceSum(x, 0) },
  // The mean truncates to an integer before it is used again (×2 would tell 3.5 from 3).
  {
    op: 'reduceMean',
    name: 'int64, axis 1, used again',
    inputs: [ids(10, 3, 4)],
    build: (x) => mul(reduceMean(x, 1), 2),
  },
  { op: 'reduceSum', name: 'empty axis list (no-op)', inputs: [f(2, 3)], build: (x) => reduceSum(x, []) },
  { op: 'reduceMax', name: 'int64, axis 1', inputs: [ids(10, 3, 4)], build: (x) => reduceMax(x, 1) },
];

// ---------------------------------------------------------------- shape ops
const shapeCases: OpCase[] = [
  { op: 'reshape', name: '[2,3,4] -> [6,4]', inputs: [f(2, 3, 4)], build: (x) => reshape(x, [6, 4]) },
  { op: 'reshape', name: '[2,3,4] -> [-1]', inputs: [f(2, 3, 4)], build: (x) => reshape(x, [-1]) },
  { op: 'reshape', name: '[2,3,4] -> [4,-1,2]', inputs: [f(2, 3, 4)], build: (x) => reshape(x, [4, -1, 2]) },
  { op: 'reshape', name: 'int64', inputs: [ids(10, 2, 6)], build: (x) => reshape(x, [3, 4]) },
  { op: 'transpose', name: 'perm [2,0,1]', inputs: [f(2, 3, 4)], build: (x) => transpose(x, [2, 0, 1]) },
  { op: 'transpose', name: 'default (reversed)', inputs: [f(2, 3, 4)], build: (x) => transpose(x) },
  { op: 'transpose', name: 'swapAxes(-1, -2)', inputs: [f(2, 3, 4)], build: (x) => swapAxes(x, -1, -2) },
  { op: 'transpose', name: 'int64', inputs: [ids(10, 3, 4)], build: (x) => transpose(x) },
  { op: 'slice', name: 'axis 1, [1:3]', inputs: [f(2, 4, 3)], build: (x) => slice(x, 1, 1, 3) },
  { op: 'slice', name: 'negative indices [-3:-1]', inputs: [f(2, 3, 5)], build: (x) => slice(x, -1, -3, -1) },
  { op: 'slice', name: 'negative start, no end', inputs: [f(5, 3)], build: (x) => slice(x, 0, -2) },
  { op: 'slice', name: 'end past the size is clamped', inputs: [f(3, 4)], build: (x) => slice(x, 1, 1, 100) },
  { op: 'slice', name: 'empty (start past end)', inputs: [f(3, 4)], build: (x) => slice(x, 1, 3, 1) },
  { op: 'slice', name: 'int64', inputs: [ids(10, 4, 3)], build: (x) => slice(x, 0, 1, 3) },
  {
    op: 'slice',
    name: 'split [1,2,1] then reordered',
    inputs: [f(2, 4, 3)],
    build: (x) => {
      const [a, b, c] = split(x, 1, [1, 2, 1]);
      return concat([c!, a!, b!], 1);
    },
  },
  {
    op: 'slice',
    name: 'split in 2 equal pieces',
    inputs: [f(3, 4)],
    build: (x) => {
      const [a, b] = split(x, -1, 2);
      return sub(a!, mul(b!, 2));
    },
  },
  { op: 'pad', name: '[3,4] before [1,0] after [0,2]', inputs: [f(3, 4)], build: (x) => pad(x, [1, 0], [0, 2]) },
  { op: 'pad', name: '3-D', inputs: [f(2, 3, 2)], build: (x) => pad(x, [0, 1, 1], [1, 0, 2]) },
  {
    op: 'concat',
    name: '3 inputs on axis 1',
    inputs: [f(2, 1, 4), f(2, 3, 4), f(2, 2, 4)],
    build: (a, b, c) => concat([a!, b!, c!], 1),
  },
  { op: 'concat', name: 'axis -1', inputs: [f(3, 2), f(3, 1), f(3, 3)], build: (a, b, c) => concat([a!, b!, c!], -1) },
  { op: 'concat', name: 'axis 0', inputs: [f(1, 4), f(2, 4)], build: (a, b) => concat([a!, b!], 0) },
  { op: 'concat', name: 'same tensor twice', inputs: [f(2, 3)], build: (a) => concat([a, a], 1) },
  { op: 'concat', name: 'int64', inputs: [ids(10, 2, 3), ids(10, 1, 3)], build: (a, b) => concat([a!, b!], 0) },
  { op: 'expand', name: '[3,1] -> [2,3,4]', inputs: [f(3, 1)], build: (x) => expand(x, [2, 3, 4]) },
  { op: 'expand', name: '[4] -> [3,4]', inputs: [f(4)], build: (x) => expand(x, [3, 4]) },
  { op: 'expand', name: '[] -> [2,3]', inputs: [f()], build: (x) => expand(x, [2, 3]) },
  { op: 'expand', name: '[1,4] -> [3,4]', inputs: [f(1, 4)], build: (x) => expand(x, [3, 4]) },
];

// ---------------------------------------------------------------- nn
const nnCases: OpCase[] = [
  { op: 'softmax', name: 'last axis', inputs: [f(2, 3, 4)], build: (x) => softmax(x) },
  { op: 'softmax', name: 'axis 1 of 3', inputs: [f(2, 3, 4)], build: (x) => softmax(x, 1) },
  { op: 'softmax', name: 'axis 0', inputs: [f(3, 4)], build: (x) => softmax(x, 0) },
  { op: 'softmax', name: 'large logits', inputs: [f(3, 4)], build: (x) => softmax(mul(x, 8)) },
  { op: 'logSoftmax', name: 'last axis', inputs: [f(2, 3, 4)], build: (x) => logSoftmax(x) },
  { op: 'logSoftmax', name: 'axis 1 of 3', inputs: [f(2, 3, 4)], build: (x) => logSoftmax(x, 1) },
  { op: 'logSoftmax', name: 'axis 0, large logits', inputs: [f(3, 4)], build: (x) => logSoftmax(mul(x, 8), 0) },
  { op: 'layerNorm', name: 'with bias', inputs: [f(2, 3, 4), f(4), f(4)], build: (x, g, b) => layerNorm(x!, g!, b!) },
  { op: 'layerNorm', name: 'without bias', inputs: [f(2, 3, 4), f(4)], build: (x, g) => layerNorm(x!, g!) },
  {
    op: 'layerNorm',
    name: 'eps 1e-2, [4,6]',
    inputs: [f(4, 6), f(6), f(6)],
    build: (x, g, b) => layerNorm(x!, g!, b!, 1e-2),
  },
  { op: 'rmsNorm', name: '[2,3,4]', inputs: [f(2, 3, 4), f(4)], build: (x, g) => rmsNorm(x!, g!) },
  { op: 'rmsNorm', name: 'eps 1e-2, [4,6]', inputs: [f(4, 6), f(6)], build: (x, g) => rmsNorm(x!, g!, 1e-2) },
  { op: 'gelu', name: 'exact (erf)', inputs: [f(3, 4)], build: (x) => gelu(mul(x, 2)) },
  { op: 'gelu', name: 'tanh approximation', inputs: [f(3, 4)], build: (x) => gelu(mul(x, 2), 'tanh') },
  { op: 'gather', name: 'table [5,3], 2-D ids [2,3]', inputs: [f(5, 3), ids(5, 2, 3)], build: gather as Bin },
  { op: 'gather', name: 'repeated ids', inputs: [f(3, 4), ids(3, 8)], build: gather as Bin },
  { op: 'gather', name: 'rank-1 table', inputs: [f(6), ids(6, 4)], build: gather as Bin },
  { op: 'gather', name: 'int32 ids, [4,2,3] table', inputs: [f(4, 2, 3), ids32(4, 2, 2)], build: gather as Bin },
  {
    op: 'gather',
    name: 'negative ids count from the end',
    inputs: [f(5, 2), ids(5, 6)],
    build: (t, i) => gather(t!, sub(i!, 5)),
  },
  { op: 'gather', name: 'int64 table', inputs: [ids(100, 5, 2), ids(5, 3)], build: gather as Bin },
  // 6 ids below 3: repeats are certain, and row 3 gets none.
  {
    op: 'scatterAddRows',
    name: 'repeated ids, 4 rows',
    inputs: [ids(3, 6), f(6, 4)],
    build: (i, u) => scatterAddRows(i!, u!, 4),
  },
  {
    op: 'scatterAddRows',
    name: '2-D ids',
    inputs: [ids(4, 2, 3), f(2, 3, 2)],
    build: (i, u) => scatterAddRows(i!, u!, 5),
  },
  {
    op: 'scatterAddRows',
    name: 'int32 ids',
    inputs: [ids32(2, 5), f(5, 3)],
    build: (i, u) => scatterAddRows(i!, u!, 3),
  },
  {
    op: 'scatterAddRows',
    name: 'negative ids count from the end',
    inputs: [ids(3, 5), f(5, 2)],
    build: (i, u) => scatterAddRows(sub(i!, 3), u!, 3),
  },
  {
    op: 'scatterAddRows',
    name: 'rank-1 updates',
    inputs: [ids(3, 7), f(7)],
    build: (i, u) => scatterAddRows(i!, u!, 3),
  },
  // 6 rows of 4 classes: ids repeat across rows, each row gets exactly one addition.
  {
    op: 'addAtLastAxis',
    name: 'one entry per row',
    inputs: [f(6, 4), ids(4, 6), f(6)],
    build: (x, i, v) => addAtLastAxis(x!, i!, v!),
  },
  {
    op: 'addAtLastAxis',
    name: 'int32 ids',
    inputs: [f(3, 5), ids32(5, 3), f(3)],
    build: (x, i, v) => addAtLastAxis(x!, i!, v!),
  },
  {
    op: 'addAtLastAxis',
    name: 'negative ids count from the end',
    inputs: [f(4, 3), ids(3, 4), f(4)],
    build: (x, i, v) => addAtLastAxis(x!, sub(i!, 3), v!),
  },
  { op: 'oneHot', name: 'depth 5', inputs: [ids(5, 2, 3)], build: (i) => oneHot(i, 5) },
  // Ids 5 and 6 lie outside depth 5: both kernels give an all-zero row.
  { op: 'oneHot', name: 'out-of-range ids', inputs: [ids(7, 8)], build: (i) => oneHot(i, 5) },
  { op: 'oneHot', name: 'negative ids count from the end', inputs: [ids(4, 6)], build: (i) => oneHot(sub(i, 4), 4) },
  { op: 'oneHot', name: 'int32 ids', inputs: [ids32(4, 6)], build: (i) => oneHot(i, 4) },
  { op: 'oneHot', name: 'float64 output', inputs: [ids(4, 6)], build: (i) => oneHot(i, 4, 'float64') },
  {
    op: 'crossEntropy',
    name: 'with ignored labels',
    inputs: [f(6, 5), labels(5, 6)],
    build: (x, y) => crossEntropy(x!, y!),
  },
  {
    op: 'crossEntropy',
    name: '[2,3,4] logits, no ignored',
    inputs: [f(2, 3, 4), ids(4, 2, 3)],
    build: (x, y) => crossEntropy(x!, y!),
  },
  {
    op: 'crossEntropy',
    name: 'custom ignore index',
    inputs: [f(6, 3), ids(3, 6)],
    build: (x, y) => crossEntropy(x!, y!, 2),
  },
  {
    op: 'crossEntropy',
    name: 'large logits, ignored labels',
    inputs: [f(8, 3), labels(3, 8)],
    build: (x, y) => crossEntropy(mul(x!, 6), y!),
  },
  {
    op: 'stopGradient',
    name: 'blocks one path of two',
    inputs: [f(3, 4)],
    build: (x) => add(mul(x, x), stopGradient(mul(x, 3))),
  },
  { op: 'topKValues', name: 'k 3 of 7', inputs: [f(2, 4, 7)], build: (x) => topK(x, 3).values },
  { op: 'topKValues', name: 'k = n', inputs: [f(3, 5)], build: (x) => topK(x, 5).values },
  { op: 'topKIndices', name: 'k 3 of 7', inputs: [f(2, 4, 7)], build: (x) => topK(x, 3).indices },
  { op: 'topKIndices', name: 'k 1 (argmax)', inputs: [f(6, 9)], build: (x) => topK(x, 1).indices },
];

// ---------------------------------------------------------------- chunked loops
/**
 * x (6, 3) in chunks of 2 rows, w (4, 3) read whole: sums Σ x_c·wᵀ (a scalar) and x_cᵀ·(x_c·wᵀ)
 * (a 2-D matmul, accumulated by Gemm in the loop), scan 2·x_c (stacked back to 6 rows).
 */
function chunkedBody(x: Tensor, w: Tensor): Tensor[] {
  const xc = input('chunk.x', [2, 3], x.dtype);
  const wc = input('chunk.w', [4, 3], w.dtype);
  const z = matmul(xc, wc, { transB: true }); // (2, 4)
  return chunkLoop(
    { sliced: [x], shared: [w] },
    {
      chunk: 2,
      rows: 6,
      sliced: [xc],
      shared: [wc],
      sums: [reduceSum(z), matmul(xc, z, { transA: true })],
      scans: [mul(xc, 2)],
    },
  );
}

/** Σ over chunks of Σ x_c², with its gradient 2·x_c computed in the loop and attached. */
function selfDifferentiated(x: Tensor): Tensor {
  const xc = input('chunk.x', [2, 3], x.dtype);
  const [value, dx] = chunkLoop(
    { sliced: [x], shared: [] },
    { chunk: 2, rows: 6, sliced: [xc], shared: [], sums: [reduceSum(mul(xc, xc))], scans: [mul(xc, 2)] },
  );
  return attachGrad(value!, [x], [dx!]);
}

const chunkCases: OpCase[] = [
  {
    op: 'chunkLoop',
    name: 'sums, a Gemm-accumulated matmul and a scan',
    inputs: [f(6, 3), f(4, 3)],
    build: (x, w) => {
      const [a, b, c] = chunkedBody(x!, w!);
      return add(add(a!, reduceSum(b!)), reduceSum(mul(c!, c!)));
    },
  },
  {
    op: 'loopOutput',
    name: 'the scan output alone',
    inputs: [f(6, 3), f(4, 3)],
    build: (x, w) => chunkedBody(x!, w!)[2]!,
  },
  {
    op: 'attachGrad',
    name: 'a loop that computes its own gradient',
    inputs: [f(6, 3)],
    build: (x) => selfDifferentiated(x!),
  },
  {
    op: 'attachGrad',
    name: 'a declared gradient',
    inputs: [f(2, 3)],
    build: (x) => attachGrad(reduceSum(mul(x!, x!)), [x!], [mul(x!, 2)]),
  },
];

export const opCases: readonly OpCase[] = [
  ...chunkCases,
  ...unaryCases,
  ...binaryCases,
  ...compareCases,
  ...selectCases,
  ...matmulCases,
  ...reduceCases,
  ...shapeCases,
  ...nnCases,
];

/** Values for one input, drawn from `rand` (uniform in [0, 1)) as its kind says. */
export function sampleInput(spec: CaseInput, rand: () => number): number[] {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const kind = spec.kind ?? (spec.dtype === 'bool' ? 'bool' : spec.dtype.startsWith('float') ? 'float' : 'ids');
  const max = spec.max ?? 10;
  const draw = (i: number): number => {
    switch (kind) {
      case 'float': {
        const m = 0.1 + 1.9 * rand();
        return rand() < 0.5 ? -m : m;
      }
      case 'positive':
        return 0.5 + 1.5 * rand();
      case 'ids':
        return Math.floor(rand() * max);
      case 'bool':
        return rand() < 0.5 ? 1 : 0;
      case 'labels': {
        const ignored = i === 1 || (i > 1 && rand() < 1 / 3);
        const y = Math.floor(rand() * max);
        return ignored ? -100 : y;
      }
    }
  };
  return Array.from({ length: n }, (_, i) => draw(i));
}
