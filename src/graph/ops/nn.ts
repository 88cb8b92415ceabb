// Neural-network primitives that onnxruntime runs as single fast kernels (Softmax,
// LayerNormalization, Gelu, Gather, LogSoftmax). Their gradients are written with
// standard ops only: stock onnxruntime has no *Grad kernels.
import { isFloat, isInt } from '../dtype.ts';
import { ndarray, sizeOf, type NDArray } from '../ndarray.ts';
import type { OpDef } from '../op.ts';
import { fmt, normalizeAxis, ShapeError } from '../shape.ts';
import { apply, random, type Tensor } from '../tensor.ts';
import {
  add,
  cast,
  div,
  equal,
  erf,
  erfRef,
  exp,
  greaterEqual,
  less,
  logicalNot,
  maximum,
  mul,
  neg,
  rsqrt,
  sub,
  tanh,
  where,
} from './elementwise.ts';
import { forEachLane } from './lanes.ts';
import { reduceMean, reduceSum, sumToShape } from './reduce.ts';
import { constant } from '../tensor.ts';
import { reshape } from './shape-ops.ts';

const requireFloat = (op: string, t: Tensor): void => {
  if (!isFloat(t.dtype)) throw new ShapeError(op, `needs a float tensor, got ${t.dtype}`);
};

// ---------------------------------------------------------------- softmax, logSoftmax
function softmaxRef(x: NDArray, axis: number, log: boolean): NDArray {
  const out = ndarray(x.shape, x.dtype);
  forEachLane(x.shape, axis, (base, st, n) => {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x.data[base + j * st]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x.data[base + j * st]! - m);
    const ls = Math.log(s);
    for (let j = 0; j < n; j++) {
      const z = x.data[base + j * st]! - m;
      out.data[base + j * st] = log ? z - ls : Math.exp(z) / s;
    }
  });
  return out;
}

export const softmaxOp: OpDef<{ axis: number }> = {
  name: 'softmax',
  infer: ([x]) => (requireFloat('softmax', x!), { shape: [...x!.shape], dtype: x!.dtype }),
  ref: ([x], { axis }) => softmaxRef(x!, axis, false),
  // dX = Y * (dY - sum(dY * Y))
  grad: ({ g, out, attrs: { axis } }) => [mul(out, sub(g, reduceSum(mul(g, out), axis, true)))],
  lower: (ctx, [x], { axis }) => ctx.op('Softmax', [x!], { axis: { int: axis } }),
};

export const logSoftmaxOp: OpDef<{ axis: number }> = {
  name: 'logSoftmax',
  infer: ([x]) => (requireFloat('logSoftmax', x!), { shape: [...x!.shape], dtype: x!.dtype }),
  ref: ([x], { axis }) => softmaxRef(x!, axis, true),
  // dX = dY - softmax(X) * sum(dY)
  grad: ({ g, out, attrs: { axis } }) => [sub(g, mul(exp(out), reduceSum(g, axis, true)))],
  lower: (ctx, [x], { axis }) => ctx.op('LogSoftmax', [x!], { axis: { int: axis } }),
};

export const softmax = (x: Tensor, axis = -1): Tensor =>
  apply(softmaxOp, [x], { axis: normalizeAxis('softmax', axis, x.rank) });
export const logSoftmax = (x: Tensor, axis = -1): Tensor =>
  apply(logSoftmaxOp, [x], { axis: normalizeAxis('logSoftmax', axis, x.rank) });

// ---------------------------------------------------------------- layerNorm, rmsNorm (last axis)
function checkNormParams(op: string, x: Tensor, params: readonly Tensor[]): void {
  requireFloat(op, x);
  const c = x.shape[x.rank - 1]!;
  for (const p of params) {
    if (p.rank !== 1 || p.shape[0] !== c)
      throw new ShapeError(
        op,
        `weight/bias must have shape [${c}] to match the last axis of ${fmt(x.shape)}, got ${fmt(p.shape)}`,
      );
  }
}

function normRef(x: NDArray, gamma: NDArray, beta: NDArray | undefined, eps: number, center: boolean): NDArray {
  const out = ndarray(x.shape, x.dtype);
  const c = x.shape[x.shape.length - 1]!;
  for (let r = 0; r < x.data.length / c; r++) {
    const o = r * c;
    let mu = 0;
    if (center) {
      for (let j = 0; j < c; j++) mu += x.data[o + j]!;
      mu /= c;
    }
    let v = 0;
    for (let j = 0; j < c; j++) v += (x.data[o + j]! - mu) ** 2;
    const rstd = 1 / Math.sqrt(v / c + eps);
    for (let j = 0; j < c; j++)
      out.data[o + j] = (x.data[o + j]! - mu) * rstd * gamma.data[j]! + (beta ? beta.data[j]! : 0);
  }
  return out;
}

export const layerNormOp: OpDef<{ eps: number }> = {
  name: 'layerNorm',
  infer: ([x, ...p]) => (checkNormParams('layerNorm', x!, p), { shape: [...x!.shape], dtype: x!.dtype }),
  ref: ([x, gamma, beta], { eps }) => normRef(x!, gamma!, beta, eps, true),
  // With x̂ = (x-μ)·rstd and dx̂ = g·γ:  dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
  grad({ g, inputs: [x, gamma, beta], attrs: { eps } }) {
    const xc = sub(x!, reduceMean(x!, -1, true));
    const rstd = rsqrt(add(reduceMean(mul(xc, xc), -1, true), eps));
    const xhat = mul(xc, rstd);
    const dxhat = mul(g, gamma!);
    const dx = mul(
      rstd,
      sub(sub(dxhat, reduceMean(dxhat, -1, true)), mul(xhat, reduceMean(mul(dxhat, xhat), -1, true))),
    );
    return [dx, sumToShape(mul(g, xhat), gamma!.shape), beta ? sumToShape(g, beta.shape) : null];
  },
  lower: (ctx, [x, gamma, beta], { eps }) =>
    ctx.op('LayerNormalization', beta ? [x!, gamma!, beta] : [x!, gamma!], {
      axis: { int: -1 },
      epsilon: { float: eps },
    }),
};

export function layerNorm(x: Tensor, gamma: Tensor, beta?: Tensor, eps = 1e-5): Tensor {
  return apply(layerNormOp, beta ? [x, gamma, beta] : [x, gamma], { eps });
}

export const rmsNormOp: OpDef<{ eps: number }> = {
  name: 'rmsNorm',
  infer: ([x, gamma]) => (checkNormParams('rmsNorm', x!, [gamma!]), { shape: [...x!.shape], dtype: x!.dtype }),
  ref: ([x, gamma], { eps }) => normRef(x!, gamma!, undefined, eps, false),
  // With x̂ = x·rstd and dx̂ = g·γ:  dx = rstd·(dx̂ − x̂·mean(dx̂·x̂)).
  grad({ g, inputs: [x, gamma], attrs: { eps } }) {
    const rstd = rsqrt(add(reduceMean(mul(x!, x!), -1, true), eps));
    const xhat = mul(x!, rstd);
    const dxhat = mul(g, gamma!);
    return [
      mul(rstd, sub(dxhat, mul(xhat, reduceMean(mul(dxhat, xhat), -1, true)))),
      sumToShape(mul(g, xhat), gamma!.shape),
    ];
  },
  lower(ctx, [x, gamma], { eps }, out) {
    if (ctx.contribOps) {
      return ctx.op('SimplifiedLayerNormalization', [x!, gamma!], { axis: { int: -1 }, epsilon: { float: eps } });
    }
    const ms = ctx.op('ReduceMean', [ctx.op('Mul', [x!, x!]), ctx.int64s([-1])], { keepdims: { int: 1 } });
    const rstd = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [ms, ctx.scalar(eps, out.dtype)])])]);
    return ctx.op('Mul', [ctx.op('Mul', [x!, rstd]), gamma!]);
  },
};

export const rmsNorm = (x: Tensor, gamma: Tensor, eps = 1e-6): Tensor => apply(rmsNormOp, [x, gamma], { eps });

// ---------------------------------------------------------------- gelu
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export type GeluApprox = 'none' | 'tanh';

export const geluOp: OpDef<{ approximate: GeluApprox }> = {
  name: 'gelu',
  infer: ([x]) => (requireFloat('gelu', x!), { shape: [...x!.shape], dtype: x!.dtype }),
  ref([x], { approximate }) {
    const out = ndarray(x!.shape, x!.dtype);
    x!.data.forEach((v, i) => {
      out.data[i] =
        approximate === 'tanh'
          ? 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)))
          : 0.5 * v * (1 + erfRef(v / Math.SQRT2));
    });
    return out;
  },
  grad({ g, inputs: [x], attrs: { approximate } }) {
    if (approximate === 'tanh') {
      const t = tanh(mul(add(x!, mul(mul(mul(x!, x!), x!), 0.044715)), SQRT_2_OVER_PI));
      const du = mul(add(mul(mul(x!, x!), 3 * 0.044715), 1), SQRT_2_OVER_PI);
      return [mul(g, add(mul(add(t, 1), 0.5), mul(mul(mul(x!, 0.5), sub(1, mul(t, t))), du)))];
    }
    // Φ(x) + x·φ(x)
    const cdf = mul(add(erf(mul(x!, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x!, x!), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(g, add(cdf, mul(x!, pdf)))];
  },
  lower: (ctx, [x], { approximate }) => ctx.op('Gelu', [x!], { approximate: { string: approximate } }),
};

export const gelu = (x: Tensor, approximate: GeluApprox = 'none'): Tensor => apply(geluOp, [x], { approximate });

// ---------------------------------------------------------------- gather rows (embedding) and its transpose
const requireIndex = (op: string, t: Tensor): void => {
  if (!isInt(t.dtype)) throw new ShapeError(op, `indices must be int64 or int32, got ${t.dtype}`);
};

export const gatherOp: OpDef<undefined> = {
  name: 'gather',
  infer([table, ids]) {
    requireIndex('gather', ids!);
    if (table!.rank < 1) throw new ShapeError('gather', 'the table needs rank >= 1');
    return { shape: [...ids!.shape, ...table!.shape.slice(1)], dtype: table!.dtype };
  },
  ref([table, ids], _a, out) {
    const row = sizeOf(table!.shape.slice(1));
    const n = table!.shape[0]!;
    const res = ndarray(out.shape, out.dtype);
    ids!.data.forEach((id, i) => {
      const r = id < 0 ? id + n : id;
      if (r < 0 || r >= n) throw new RangeError(`gather: index ${id} is out of range for a table of ${n} rows`);
      res.data.set(table!.data.subarray(r * row, (r + 1) * row), i * row);
    });
    return res;
  },
  grad: ({ g, inputs: [table, ids] }) => [scatterAddRows(ids!, g, table!.shape[0]!), null],
  lower: (ctx, [table, ids]) => ctx.op('Gather', [table!, ids!], { axis: { int: 0 } }),
};

/** table[ids]: rows of `table` picked by integer ids of any shape (an embedding lookup). */
export const gather = (table: Tensor, ids: Tensor): Tensor => apply(gatherOp, [table, ids], undefined);

// Picking entries along the last axis (torch.gather(x, -1, ids)), composed from existing ops.
//
// Two ways exist. oneHot(ids, V) · x builds a (…, k, V) tensor: for a causal LM batch of 8k
// positions, k = 20 and V = 50k that is 8·10⁹ floats. Instead the last axis is flattened into the
// rows of a 1-D table and `gather` reads N·k entries at flat indices n·V + id; its gradient is a
// ScatterND of N·k updates into one (N·V) buffer, the size of x's gradient anyway. So the flat
// gather costs O(N·k) beyond the dense gradient, the one-hot route O(N·k·V).
/** x (…, V), ids (…, k) int → (…, k) with out[…, j] = x[…, ids[…, j]]. Ids must lie in [0, V). */
export function takeAlongLastAxis(x: Tensor, ids: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const v = x.shape[x.rank - 1]!;
  if (ids.rank !== x.rank || lead.some((d, i) => d !== ids.shape[i])) {
    throw new ShapeError(
      'takeAlongLastAxis',
      `ids ${fmt(ids.shape)} must match x ${fmt(x.shape)} in every axis but the last`,
    );
  }
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32')
    throw new ShapeError('takeAlongLastAxis', `ids must be int64 or int32, got ${ids.dtype}`);
  const n = lead.reduce((a, b) => a * b, 1);
  const offsets = constant(
    ndarray(
      [...lead, 1],
      'int64',
      Array.from({ length: n }, (_, i) => i * v),
    ),
  ); // (…, 1)
  const flat = add(cast(ids, 'int64'), offsets); // (…, k)
  return gather(reshape(x, [n * v]), flat); // (…, k)
}

export const scatterAddRowsOp: OpDef<{ rows: number }> = {
  name: 'scatterAddRows',
  infer([ids, updates], { rows }) {
    requireIndex('scatterAddRows', ids!);
    const ok = updates!.rank >= ids!.rank && ids!.shape.every((d, i) => d === updates!.shape[i]);
    if (!ok)
      throw new ShapeError(
        'scatterAddRows',
        `updates ${fmt(updates!.shape)} must start with the ids' shape ${fmt(ids!.shape)}`,
      );
    return { shape: [rows, ...updates!.shape.slice(ids!.rank)], dtype: updates!.dtype };
  },
  ref([ids, updates], { rows }, out) {
    const row = sizeOf(out.shape.slice(1));
    const res = ndarray(out.shape, out.dtype);
    ids!.data.forEach((id, i) => {
      const r = id < 0 ? id + rows : id;
      for (let j = 0; j < row; j++) res.data[r * row + j]! += updates!.data[i * row + j]!;
    });
    return res;
  },
  grad: ({ g, inputs: [ids] }) => [null, gather(g, ids!)],
  lower(ctx, [ids, updates], _a, out) {
    const zeros = ctx.op('ConstantOfShape', [ctx.int64s(out.shape)], {
      value: { tensor: ndarray([1], out.dtype, [0]) },
    });
    const idx64 =
      out.inputs[0]!.dtype === 'int64' ? ids! : ctx.op('Cast', [ids!], { to: { int: ctx.onnxType('int64') } });
    const indices = ctx.op('Unsqueeze', [idx64, ctx.int64s([-1])]);
    return ctx.op('ScatterND', [zeros, indices, updates!], { reduction: { string: 'add' } });
  },
};

/** The transpose of gather: a (rows, ...) tensor where each id's update is summed into its row. */
export const scatterAddRows = (ids: Tensor, updates: Tensor, rows: number): Tensor =>
  apply(scatterAddRowsOp, [ids, updates], { rows });

// ---------------------------------------------------------------- addAtLastAxis
// x (N, C), ids (N), values (N) → x with x[n, ids[n]] += values[n]. Cross-entropy's gradient is
// softmax − onehot(label): one scatter of N entries instead of a (N, C) OneHot and a Sub, which at
// C = 152k cost as much as the softmax itself.
export const addAtLastAxisOp: OpDef<Record<string, never>> = {
  name: 'addAtLastAxis',
  infer([x, ids, values]) {
    requireFloat('addAtLastAxis', x!);
    requireIndex('addAtLastAxis', ids!);
    if (
      x!.rank !== 2 ||
      ids!.rank !== 1 ||
      values!.rank !== 1 ||
      ids!.shape[0] !== x!.shape[0] ||
      values!.shape[0] !== x!.shape[0]
    ) {
      throw new ShapeError(
        'addAtLastAxis',
        `expects x (N, C), ids (N) and values (N), got ${fmt(x!.shape)}, ${fmt(ids!.shape)} and ${fmt(values!.shape)}`,
      );
    }
    if (values!.dtype !== x!.dtype)
      throw new ShapeError('addAtLastAxis', `values must be ${x!.dtype}, got ${values!.dtype}`);
    return { shape: [...x!.shape], dtype: x!.dtype };
  },
  ref([x, ids, values], _a, out) {
    const c = x!.shape[1]!;
    const res = ndarray(out.shape, out.dtype, Array.from(x!.data));
    ids!.data.forEach((id, n) => {
      const k = id < 0 ? id + c : id;
      if (k < 0 || k >= c) throw new RangeError(`addAtLastAxis: index ${id} is out of range for ${c} classes`);
      res.data[n * c + k]! += values!.data[n]!;
    });
    return res;
  },
  // d/dvalues[n] = g[n, ids[n]]; negative ids are first brought into [0, C).
  grad({ g, inputs: [x, ids] }) {
    const c = x!.shape[1]!;
    const inRow = where(less(ids!, 0), add(ids!, c), ids!);
    return [g, null, reshape(takeAlongLastAxis(g, reshape(inRow, [-1, 1])), [-1])];
  },
  lower(ctx, [x, ids, values], _a, out) {
    const idx64 =
      out.inputs[1]!.dtype === 'int64' ? ids! : ctx.op('Cast', [ids!], { to: { int: ctx.onnxType('int64') } });
    const axis = ctx.int64s([-1]);
    return ctx.op('ScatterElements', [x!, ctx.op('Unsqueeze', [idx64, axis]), ctx.op('Unsqueeze', [values!, axis])], {
      axis: { int: 1 },
      reduction: { string: 'add' },
    });
  },
};

export const addAtLastAxis = (x: Tensor, ids: Tensor, values: Tensor): Tensor =>
  apply(addAtLastAxisOp, [x, ids, values], {});

// ---------------------------------------------------------------- one-hot
export const oneHotOp: OpDef<{ depth: number; dtype: 'float32' | 'float64' }> = {
  name: 'oneHot',
  infer: ([ids], { depth, dtype }) => (requireIndex('oneHot', ids!), { shape: [...ids!.shape, depth], dtype }),
  ref([ids], { depth }, out) {
    const res = ndarray(out.shape, out.dtype);
    ids!.data.forEach((id, i) => {
      const k = id < 0 ? id + depth : id;
      if (k >= 0 && k < depth) res.data[i * depth + k] = 1;
    });
    return res;
  },
  grad: null,
  // onnxruntime's OneHot kernels take int64 indices with an int64 depth only into float32 (no int32
  // indices, no float64 values), so other dtypes go through casts.
  lower(ctx, [ids], { depth, dtype }, out) {
    const idx64 =
      out.inputs[0]!.dtype === 'int64' ? ids! : ctx.op('Cast', [ids!], { to: { int: ctx.onnxType('int64') } });
    const values = ctx.op('Cast', [ctx.int64s([0, 1])], { to: { int: ctx.onnxType('float32') } });
    const hot = ctx.op('OneHot', [idx64, ctx.scalar(depth, 'int64'), values], { axis: { int: -1 } });
    return dtype === 'float32' ? hot : ctx.op('Cast', [hot], { to: { int: ctx.onnxType(dtype) } });
  },
};

export const oneHot = (ids: Tensor, depth: number, dtype: 'float32' | 'float64' = 'float32'): Tensor =>
  apply(oneHotOp, [ids], { depth, dtype });

// ---------------------------------------------------------------- cross-entropy from labels
export interface CrossEntropyAttrs {
  ignoreIndex: number;
}

export const crossEntropyOp: OpDef<CrossEntropyAttrs> = {
  name: 'crossEntropy',
  infer([logits, labels]) {
    requireFloat('crossEntropy', logits!);
    requireIndex('crossEntropy', labels!);
    if (logits!.rank !== 2 || labels!.rank !== 1 || labels!.shape[0] !== logits!.shape[0]) {
      throw new ShapeError(
        'crossEntropy',
        `expects logits (N, C) and labels (N), got ${fmt(logits!.shape)} and ${fmt(labels!.shape)}`,
      );
    }
    return { shape: [], dtype: logits!.dtype };
  },
  ref([logits, labels], { ignoreIndex }) {
    const lsm = softmaxRef(logits!, 1, true);
    const c = logits!.shape[1]!;
    let sum = 0,
      count = 0;
    labels!.data.forEach((y, i) => {
      if (y === ignoreIndex) return;
      sum -= lsm.data[i * c + y]!;
      count++;
    });
    return ndarray([], logits!.dtype, [sum / count]);
  },
  // (softmax − onehot) / count, zero on ignored rows; the onehot is a scatter of −1/count per row.
  grad({ g, inputs: [logits, labels], attrs: { ignoreIndex } }) {
    const valid = logicalNot(equal(labels!, ignoreIndex));
    const safe = where(valid, labels!, 0);
    const validF = cast(valid, logits!.dtype);
    const count = maximum(reduceSum(validF), 1);
    const rowScale = mul(validF, div(g, count)); // (N): 0 on ignored rows
    return [addAtLastAxis(mul(softmax(logits!, 1), reshape(rowScale, [-1, 1])), safe, neg(rowScale)), null];
  },
  // −log_softmax(z)[label] per row, masked mean. Not SoftmaxCrossEntropyLoss: onnxruntime runs that
  // as its function body, a LogSoftmax over axis 1 of (N, C, 1), three times slower than this
  // last-axis one at C = 152k (46 vs 16 ms for 256 rows; ReduceLogSumExp took 98-126 ms).
  lower(ctx, [logits, labels], { ignoreIndex }, out) {
    const dtype = ctx.onnxType(out.dtype);
    const lsm = ctx.op('LogSoftmax', [logits!], { axis: { int: -1 } }); // (N, C)
    const valid = ctx.op('Not', [ctx.op('Equal', [labels!, ctx.scalar(ignoreIndex, 'int64')])]); // (N)
    const safe = ctx.op('Where', [valid, labels!, ctx.scalar(0, 'int64')]);
    const picked = ctx.op('GatherElements', [lsm, ctx.op('Unsqueeze', [safe, ctx.int64s([1])])], {
      axis: { int: 1 },
    }); // (N, 1)
    const nll = ctx.op('Neg', [ctx.op('Squeeze', [picked, ctx.int64s([1])])]); // (N)
    const validF = ctx.op('Cast', [valid], { to: { int: dtype } });
    const sum = ctx.op('ReduceSum', [ctx.op('Mul', [nll, validF])], { keepdims: { int: 0 } });
    return ctx.op('Div', [sum, ctx.op('ReduceSum', [validF], { keepdims: { int: 0 } })]);
  },
};

/**
 * Mean cross-entropy of integer labels under logits, over labels that are not `ignoreIndex`.
 * Logits (..., C) and labels (...) are flattened; labels must be int64, as token ids are everywhere.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const c = logits.shape[logits.rank - 1]!;
  if (labels.dtype !== 'int64') throw new ShapeError('crossEntropy', `labels must be int64, got ${labels.dtype}`);
  // Checked here, before flattening, so the message shows the shapes the caller passed.
  if (logits.rank < 1 || labels.rank !== logits.rank - 1 || labels.shape.some((d, i) => d !== logits.shape[i])) {
    throw new ShapeError(
      'crossEntropy',
      `labels ${fmt(labels.shape)} must have the shape of logits ${fmt(logits.shape)} without its last (class) axis`,
    );
  }
  return apply(crossEntropyOp, [reshape(logits, [-1, c]), reshape(labels, [-1])], { ignoreIndex });
}

// ---------------------------------------------------------------- composites
/**
 * Keeps scores where key position ≤ query position (aligned to the end), pushes the rest to -1e9.
 * An additive bias rather than a select: its gradient is the incoming one unchanged, so the
 * backward pass spends nothing on the mask.
 */
export function causalMask(scores: Tensor): Tensor {
  const t = scores.shape[scores.rank - 2]!,
    s = scores.shape[scores.rank - 1]!;
  const bias = ndarray([t, s], scores.dtype);
  for (let i = 0; i < t; i++) for (let j = Math.max(0, i + s - t + 1); j < s; j++) bias.data[i * s + j] = -1e9;
  return add(scores, constant(bias));
}

/** Inverted dropout with noise from the executor's seeded generator; `key` names the site. */
export function dropout(x: Tensor, p: number, key: string): Tensor {
  if (p < 0 || p >= 1) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const keep = greaterEqual(random(key, x.shape, x.dtype), p);
  return where(keep, mul(x, 1 / (1 - p)), 0);
}
