// Elementwise ops with numpy broadcasting. One row per op in each table below: shape rule and
// ONNX lowering are shared by the table's kind, the kernel and gradient are the row's own.
import { isFloat, type DType } from '../dtype.ts';
import { broadcastIndex, castValue, ndarray, sizeOf, type NDArray } from '../ndarray.ts';
import type { GradArgs, OpDef, TypeInfo } from '../op.ts';
import { broadcastShapes, fmt, ShapeError } from '../shape.ts';
import { apply, Tensor } from '../tensor.ts';
import { lift, type TensorLike } from './scalar.ts';
import { sumToShape } from './reduce.ts';

function mapUnary(x: NDArray, f: (v: number) => number, dtype: DType = x.dtype): NDArray {
  const out = ndarray(x.shape, dtype);
  for (let i = 0; i < out.data.length; i++) out.data[i] = castValue(f(x.data[i]!), dtype);
  return out;
}

function mapBinary(a: NDArray, b: NDArray, out: TypeInfo, f: (x: number, y: number) => number): NDArray {
  const res = ndarray(out.shape, out.dtype);
  const ia = broadcastIndex(a.shape, out.shape);
  const ib = broadcastIndex(b.shape, out.shape);
  for (let i = 0; i < res.data.length; i++) res.data[i] = castValue(f(a.data[ia[i]!]!, b.data[ib[i]!]!), out.dtype);
  return res;
}

// ---------------------------------------------------------------- unary
interface UnaryRow {
  f: (v: number) => number;
  /** ONNX lowering as a function of the input's name. */
  lower: (ctx: Parameters<OpDef['lower']>[0], x: string, dtype: DType) => string;
  grad: ((a: GradArgs<undefined>) => Tensor | null) | null;
  /** Only floats (exp, log, ...) vs any numeric (neg, abs). */
  floatOnly: boolean;
}

const erfApprox = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for an oracle; use a series/continued-fraction pair.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = x,
      term = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for the tails.
  const z = ax;
  let f = z,
    C = z,
    D = 0;
  const tiny = 1e-300;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = z + an * D;
    if (D === 0) D = tiny;
    D = 1 / D;
    C = z + an / C;
    if (C === 0) C = tiny;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
};
export const erfRef = erfApprox;

const sigmoidRef = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

const unaryRows = {
  neg: { f: (v) => -v, lower: (c, x) => c.op('Neg', [x]), grad: ({ g }) => neg(g), floatOnly: false },
  abs: {
    f: Math.abs,
    lower: (c, x) => c.op('Abs', [x]),
    grad: ({ g, inputs }) => mul(g, sign(inputs[0]!)),
    floatOnly: false,
  },
  // Zero almost everywhere, as PyTorch and JAX define it: no gradient flows (null), but an
  // expression through sign (abs's gradient) stays differentiable.
  sign: { f: Math.sign, lower: (c, x) => c.op('Sign', [x]), grad: () => null, floatOnly: false },
  exp: { f: Math.exp, lower: (c, x) => c.op('Exp', [x]), grad: ({ g, out }) => mul(g, out), floatOnly: true },
  log: { f: Math.log, lower: (c, x) => c.op('Log', [x]), grad: ({ g, inputs }) => div(g, inputs[0]!), floatOnly: true },
  sqrt: {
    f: Math.sqrt,
    lower: (c, x) => c.op('Sqrt', [x]),
    grad: ({ g, out }) => div(mul(g, 0.5), out),
    floatOnly: true,
  },
  rsqrt: {
    f: (v) => 1 / Math.sqrt(v),
    lower: (c, x) => c.op('Reciprocal', [c.op('Sqrt', [x])]),
    grad: ({ g, out }) => mul(g, mul(pow(out, 3), -0.5)),
    floatOnly: true,
  },
  reciprocal: {
    f: (v) => 1 / v,
    lower: (c, x) => c.op('Reciprocal', [x]),
    grad: ({ g, out }) => neg(mul(g, mul(out, out))),
    floatOnly: true,
  },
  tanh: {
    f: Math.tanh,
    lower: (c, x) => c.op('Tanh', [x]),
    grad: ({ g, out }) => mul(g, sub(1, mul(out, out))),
    floatOnly: true,
  },
  erf: {
    f: erfApprox,
    lower: (c, x) => c.op('Erf', [x]),
    grad: ({ g, inputs }) => {
      const x = inputs[0]!;
      return mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)));
    },
    floatOnly: true,
  },
  relu: {
    f: (v) => Math.max(v, 0),
    lower: (c, x) => c.op('Relu', [x]),
    grad: ({ g, inputs }) => where(greater(inputs[0]!, 0), g, 0),
    floatOnly: true,
  },
  sigmoid: {
    f: sigmoidRef,
    lower: (c, x) => c.op('Sigmoid', [x]),
    grad: ({ g, out }) => mul(g, mul(out, sub(1, out))),
    floatOnly: true,
  },
  silu: {
    f: (v) => v * sigmoidRef(v),
    lower: (c, x) => c.op('Mul', [x, c.op('Sigmoid', [x])]),
    grad: ({ g, inputs }) => {
      const s = sigmoid(inputs[0]!);
      return mul(g, add(s, mul(inputs[0]!, mul(s, sub(1, s)))));
    },
    floatOnly: true,
  },
} satisfies Record<string, UnaryRow>;

export type UnaryName = keyof typeof unaryRows;

function unaryDef(name: UnaryName, row: UnaryRow): OpDef<undefined> {
  return {
    name,
    infer([x]) {
      if (row.floatOnly && !isFloat(x!.dtype))
        throw new ShapeError(name, `needs a float tensor, got ${x!.dtype}; cast it first`);
      return { shape: [...x!.shape], dtype: x!.dtype };
    },
    ref: ([x]) => mapUnary(x!, row.f),
    grad: row.grad ? (a) => [row.grad!(a)] : null,
    lower: (ctx, [x], _a, out) => row.lower(ctx, x!, out.dtype),
  };
}

export const unaryOps = Object.fromEntries(
  Object.entries(unaryRows).map(([k, row]) => [k, unaryDef(k as UnaryName, row)]),
) as Record<UnaryName, OpDef<undefined>>;

const unary =
  (name: UnaryName) =>
  (x: Tensor): Tensor =>
    apply(unaryOps[name], [x], undefined);
export const neg = unary('neg');
export const abs = unary('abs');
export const sign = unary('sign');
export const exp = unary('exp');
export const log = unary('log');
export const sqrt = unary('sqrt');
export const rsqrt = unary('rsqrt');
export const reciprocal = unary('reciprocal');
export const tanh = unary('tanh');
export const erf = unary('erf');
export const relu = unary('relu');
export const sigmoid = unary('sigmoid');
export const silu = unary('silu');

// ---------------------------------------------------------------- binary
interface BinaryRow {
  f: (a: number, b: number) => number;
  onnx: string;
  /** Gradients for a and b before broadcasting is undone. */
  grad: ((a: GradArgs<undefined>) => [Tensor | null, Tensor | null]) | null;
}

const binaryRows = {
  add: { f: (a, b) => a + b, onnx: 'Add', grad: ({ g }) => [g, g] },
  sub: { f: (a, b) => a - b, onnx: 'Sub', grad: ({ g }) => [g, neg(g)] },
  mul: { f: (a, b) => a * b, onnx: 'Mul', grad: ({ g, inputs: [a, b] }) => [mul(g, b!), mul(g, a!)] },
  div: {
    f: (a, b) => a / b,
    onnx: 'Div',
    grad: ({ g, inputs: [_a, b], out }) => [
      div(g, b!),
      isFloat(b!.dtype) && b!.leaf !== 'constant' ? neg(div(mul(g, out), b!)) : null,
    ],
  },
  pow: {
    f: Math.pow,
    onnx: 'Pow',
    grad: ({ g, inputs: [a, b], out }) => [
      mul(g, mul(b!, pow(a!, sub(b!, 1)))),
      b!.leaf === 'constant' ? null : mul(g, mul(out, log(a!))),
    ],
  },
  maximum: {
    f: Math.max,
    onnx: 'Max',
    grad: ({ g, inputs: [a, b] }) => {
      const m = greaterEqual(a!, b!);
      return [where(m, g, 0), where(m, 0, g)];
    },
  },
  minimum: {
    f: Math.min,
    onnx: 'Min',
    grad: ({ g, inputs: [a, b] }) => {
      const m = lessEqual(a!, b!);
      return [where(m, g, 0), where(m, 0, g)];
    },
  },
} satisfies Record<string, BinaryRow>;

export type BinaryName = keyof typeof binaryRows;

function checkSameDtype(name: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype)
    throw new ShapeError(name, `operands have different dtypes ${a.dtype} and ${b.dtype}; cast one of them`);
}

function binaryDef(name: BinaryName, row: BinaryRow): OpDef<undefined> {
  return {
    name,
    infer([a, b]) {
      checkSameDtype(name, a!, b!);
      return { shape: broadcastShapes(name, a!.shape, b!.shape), dtype: a!.dtype };
    },
    ref: ([a, b], _attrs, out) => mapBinary(a!, b!, out, row.f),
    grad: row.grad
      ? (args) => {
          const [ga, gb] = row.grad!(args);
          const [a, b] = args.inputs;
          return [
            ga && isFloat(a!.dtype) ? sumToShape(ga, a!.shape) : null,
            gb && isFloat(b!.dtype) ? sumToShape(gb, b!.shape) : null,
          ];
        }
      : null,
    lower: (ctx, [a, b]) => ctx.op(row.onnx, [a!, b!]),
  };
}

export const binaryOps = Object.fromEntries(
  Object.entries(binaryRows).map(([k, row]) => [k, binaryDef(k as BinaryName, row)]),
) as Record<BinaryName, OpDef<undefined>>;

const binary =
  (name: BinaryName) =>
  (a: TensorLike, b: TensorLike): Tensor => {
    if (!(a instanceof Tensor) && !(b instanceof Tensor))
      throw new Error(`${name}: at least one operand must be a Tensor`);
    return apply(binaryOps[name], [lift(a, b), lift(b, a)], undefined);
  };
export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const maximum = binary('maximum');
export const minimum = binary('minimum');
export const square = (x: Tensor): Tensor => mul(x, x);

// ---------------------------------------------------------------- comparisons (bool out, no gradient)
const compareRows = {
  greater: { f: (a: number, b: number) => a > b, onnx: 'Greater' },
  greaterEqual: { f: (a: number, b: number) => a >= b, onnx: 'GreaterOrEqual' },
  less: { f: (a: number, b: number) => a < b, onnx: 'Less' },
  lessEqual: { f: (a: number, b: number) => a <= b, onnx: 'LessOrEqual' },
  equal: { f: (a: number, b: number) => a === b, onnx: 'Equal' },
} satisfies Record<string, { f: (a: number, b: number) => boolean; onnx: string }>;

export type CompareName = keyof typeof compareRows;

function compareDef(name: CompareName, row: { f: (a: number, b: number) => boolean; onnx: string }): OpDef<undefined> {
  return {
    name,
    infer([a, b]) {
      checkSameDtype(name, a!, b!);
      return { shape: broadcastShapes(name, a!.shape, b!.shape), dtype: 'bool' };
    },
    ref: ([a, b], _attrs, out) => mapBinary(a!, b!, out, (x, y) => (row.f(x, y) ? 1 : 0)),
    grad: null,
    lower: (ctx, [a, b]) => ctx.op(row.onnx, [a!, b!]),
  };
}

export const compareOps = Object.fromEntries(
  Object.entries(compareRows).map(([k, row]) => [k, compareDef(k as CompareName, row)]),
) as Record<CompareName, OpDef<undefined>>;

const compare =
  (name: CompareName) =>
  (a: TensorLike, b: TensorLike): Tensor =>
    apply(compareOps[name], [lift(a, b), lift(b, a)], undefined);
export const greater = compare('greater');
export const greaterEqual = compare('greaterEqual');
export const less = compare('less');
export const lessEqual = compare('lessEqual');
export const equal = compare('equal');

// ---------------------------------------------------------------- where, logical not, cast
export const whereOp: OpDef<undefined> = {
  name: 'where',
  infer([c, a, b]) {
    if (c!.dtype !== 'bool')
      throw new ShapeError('where', `condition must be bool, got ${c!.dtype}; compare first (greater, equal, ...)`);
    checkSameDtype('where', a!, b!);
    return { shape: broadcastShapes('where', c!.shape, broadcastShapes('where', a!.shape, b!.shape)), dtype: a!.dtype };
  },
  ref([c, a, b], _attrs, out) {
    const res = ndarray(out.shape, out.dtype);
    const ic = broadcastIndex(c!.shape, out.shape),
      ia = broadcastIndex(a!.shape, out.shape),
      ib = broadcastIndex(b!.shape, out.shape);
    for (let i = 0; i < res.data.length; i++) res.data[i] = c!.data[ic[i]!] ? a!.data[ia[i]!]! : b!.data[ib[i]!]!;
    return res;
  },
  grad: ({ g, inputs: [c, a, b] }) => [
    null,
    isFloat(a!.dtype) ? sumToShape(where(c!, g, 0), a!.shape) : null,
    isFloat(b!.dtype) ? sumToShape(where(c!, 0, g), b!.shape) : null,
  ],
  lower: (ctx, [c, a, b]) => ctx.op('Where', [c!, a!, b!]),
};

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return apply(whereOp, [cond, lift(a, b), lift(b, a)], undefined);
}

export const logicalNotOp: OpDef<undefined> = {
  name: 'logicalNot',
  infer([x]) {
    if (x!.dtype !== 'bool') throw new ShapeError('logicalNot', `needs a bool tensor, got ${x!.dtype}`);
    return { shape: [...x!.shape], dtype: 'bool' };
  },
  ref: ([x]) => mapUnary(x!, (v) => (v ? 0 : 1)),
  grad: null,
  lower: (ctx, [x]) => ctx.op('Not', [x!]),
};
export const logicalNot = (x: Tensor): Tensor => apply(logicalNotOp, [x], undefined);

export const stopGradientOp: OpDef<undefined> = {
  name: 'stopGradient',
  infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
  ref: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype, data: x!.data.slice() }),
  // The point of the op: the value passes, the gradient does not (a target held fixed).
  grad: () => [null],
  lower: (ctx, [x]) => ctx.op('Identity', [x!]),
};
/** x as a constant for autodiff: mutual learning and self-distillation hold their targets fixed. */
export const stopGradient = (x: Tensor): Tensor => apply(stopGradientOp, [x], undefined);

export const castOp: OpDef<{ to: DType }> = {
  name: 'cast',
  infer: ([x], { to }) => ({ shape: [...x!.shape], dtype: to }),
  ref: ([x], { to }) => mapUnary(x!, (v) => v, to),
  grad: ({ g, inputs: [x] }) => [isFloat(x!.dtype) && isFloat(g.dtype) ? cast(g, x!.dtype) : null],
  lower: (ctx, [x], { to }) => ctx.op('Cast', [x!], { to: { int: ctx.onnxType(to) } }),
};
export function cast(x: Tensor, to: DType): Tensor {
  return x.dtype === to ? x : apply(castOp, [x], { to });
}

export { sizeOf, fmt };
