// Ops that move data without arithmetic: reshape, transpose, slice, pad, concat, expand.
// Their gradients are each other: slice's is pad, concat's is slices, expand's is a sum.
import { isFloat } from '../dtype.ts';
import { broadcastIndex, ndarray, sizeOf, stridesOf, type NDArray } from '../ndarray.ts';
import type { OpDef } from '../op.ts';
import { broadcastShapes, fmt, normalizeAxis, ShapeError } from '../shape.ts';
import { apply, type Tensor } from '../tensor.ts';
import { sumToShape } from './reduce.ts';

/** Copies elements of x at the positions an index function gives, into a new array of shape `shape`. */
function gatherBy(x: NDArray, shape: number[], srcIndex: (outIdx: number[]) => number): NDArray {
  const out = ndarray(shape, x.dtype);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = x.data[srcIndex(idx)]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

const floatGrad = (x: Tensor, g: Tensor | null): Tensor | null => (isFloat(x.dtype) ? g : null);

const validDims = (shape: readonly number[]): boolean => shape.every((d) => Number.isInteger(d) && d >= 0);

// ---------------------------------------------------------------- reshape
export const reshapeOp: OpDef<{ shape: number[] }> = {
  name: 'reshape',
  infer([x], { shape }) {
    if (!validDims(shape))
      throw new ShapeError(
        'reshape',
        `target shape ${fmt(shape)} must hold non-negative integers (one -1 at most, to be inferred)`,
      );
    if (sizeOf(shape) !== x!.size)
      throw new ShapeError(
        'reshape',
        `cannot reshape ${fmt(x!.shape)} (${x!.size} elements) to ${fmt(shape)} (${sizeOf(shape)} elements)`,
      );
    return { shape: [...shape], dtype: x!.dtype };
  },
  ref: ([x], { shape }) => ({ shape: [...shape], dtype: x!.dtype, data: x!.data.slice() }),
  grad: ({ g, inputs: [x] }) => [floatGrad(x!, reshape(g, x!.shape))],
  lower: (ctx, [x], { shape }) => ctx.op('Reshape', [x!, ctx.int64s(shape)]),
};

/** Reshape; one dimension may be -1 and is then inferred. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError('reshape', `only one dimension may be -1, got ${fmt(shape)}`);
  let resolved = [...shape];
  if (unknown === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0)
      throw new ShapeError('reshape', `cannot infer -1 in ${fmt(shape)} for ${x.size} elements of ${fmt(x.shape)}`);
    resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  // A reshape of a reshape reads the same buffer in the same order: one node does.
  const source = x.def === reshapeOp ? x.inputs[0]! : x;
  if (resolved.length === source.rank && resolved.every((d, i) => d === source.shape[i])) return source;
  return apply(reshapeOp, [source], { shape: resolved });
}

// ---------------------------------------------------------------- transpose
export const transposeOp: OpDef<{ perm: number[] }> = {
  name: 'transpose',
  infer([x], { perm }) {
    const ok = perm.length === x!.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!ok)
      throw new ShapeError(
        'transpose',
        `perm ${fmt(perm)} is not a permutation of the ${x!.rank} axes of ${fmt(x!.shape)}`,
      );
    return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
  ref([x], { perm }, out) {
    const st = stridesOf(x!.shape);
    return gatherBy(x!, out.shape, (idx) => idx.reduce((s, v, d) => s + v * st[perm[d]!]!, 0));
  },
  grad: ({ g, inputs: [x], attrs: { perm } }) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [floatGrad(x!, transpose(g, inv))];
  },
  lower: (ctx, [x], { perm }) => ctx.op('Transpose', [x!], { perm: { ints: perm } }),
};

export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => normalizeAxis('transpose', a, x.rank)) : [...Array(x.rank).keys()].reverse();
  if (p.every((v, i) => v === i)) return x;
  // Moving only axes of size 1 leaves the elements in memory order (a decode step's (B, 1, H, hs) →
  // (B, H, 1, hs)): a reshape, which costs no copy, instead of a Transpose kernel.
  const moved = p.filter((a) => x.shape[a] !== 1);
  if (moved.every((a, i) => i === 0 || a > moved[i - 1]!))
    return reshape(
      x,
      p.map((a) => x.shape[a]!),
    );
  return apply(transposeOp, [x], { perm: p });
}

/** Swaps two axes (negative axes count from the end). */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  const perm = [...Array(x.rank).keys()];
  const i = normalizeAxis('swapAxes', a, x.rank),
    j = normalizeAxis('swapAxes', b, x.rank);
  [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  return transpose(x, perm);
}

// ---------------------------------------------------------------- slice and pad
interface SliceAttrs {
  /** Full-rank, clamped, non-negative. */
  starts: number[];
  ends: number[];
}

export const sliceOp: OpDef<SliceAttrs> = {
  name: 'slice',
  infer: ([x], { starts, ends }) => ({ shape: x!.shape.map((_, d) => ends[d]! - starts[d]!), dtype: x!.dtype }),
  ref([x], { starts }, out) {
    const st = stridesOf(x!.shape);
    return gatherBy(x!, out.shape, (idx) => idx.reduce((s, v, d) => s + (v + starts[d]!) * st[d]!, 0));
  },
  grad: ({ g, inputs: [x], attrs: { starts, ends } }) => [
    floatGrad(
      x!,
      pad(
        g,
        starts,
        x!.shape.map((d, i) => d - ends[i]!),
      ),
    ),
  ],
  lower(ctx, [x], { starts, ends }, out) {
    const axes = out.shape
      .map((_, d) => d)
      .filter((d) => starts[d] !== 0 || ends[d] !== (out.inputs[0]!.shape[d] ?? 0));
    return ctx.op('Slice', [
      x!,
      ctx.int64s(axes.map((d) => starts[d]!)),
      ctx.int64s(axes.map((d) => ends[d]!)),
      ctx.int64s(axes),
    ]);
  },
};

/** x[start:end] along one axis (negative indices count from the end, as in Python). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normalizeAxis('slice', axis, x.rank);
  const n = x.shape[a]!;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clamp(start),
    e = Math.max(clamp(end ?? n), s);
  if (s === 0 && e === n) return x;
  const starts = x.shape.map(() => 0),
    ends = [...x.shape];
  starts[a] = s;
  ends[a] = e;
  return apply(sliceOp, [x], { starts, ends });
}

interface PadAttrs {
  before: number[];
  after: number[];
}

export const padOp: OpDef<PadAttrs> = {
  name: 'pad',
  infer([x], { before, after }) {
    if (before.length !== x!.rank || after.length !== x!.rank || [...before, ...after].some((p) => p < 0)) {
      throw new ShapeError(
        'pad',
        `pads must be ${x!.rank} non-negative numbers each side, got ${fmt(before)} / ${fmt(after)}`,
      );
    }
    return { shape: x!.shape.map((d, i) => d + before[i]! + after[i]!), dtype: x!.dtype };
  },
  ref([x], { before }, out) {
    const res = ndarray(out.shape, x!.dtype);
    const st = stridesOf(out.shape);
    const rank = x!.shape.length;
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < x!.data.length; i++) {
      res.data[idx.reduce((s, v, d) => s + (v + before[d]!) * st[d]!, 0)] = x!.data[i]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < x!.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return res;
  },
  grad: ({ g, inputs: [x], attrs: { before } }) => {
    let r = g;
    x!.shape.forEach((d, i) => (r = slice(r, i, before[i]!, before[i]! + d)));
    return [floatGrad(x!, r)];
  },
  lower: (ctx, [x], { before, after }) =>
    ctx.op('Pad', [x!, ctx.int64s([...before, ...after])], { mode: { string: 'constant' } }),
};

/** Zero padding: `before[d]` zeros ahead of and `after[d]` behind each dimension d. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  if (before.every((p) => p === 0) && after.every((p) => p === 0)) return x;
  return apply(padOp, [x], { before: [...before], after: [...after] });
}

// ---------------------------------------------------------------- concat and split
export const concatOp: OpDef<{ axis: number }> = {
  name: 'concat',
  infer(xs, { axis }) {
    const first = xs[0]!;
    for (const x of xs) {
      if (x.dtype !== first.dtype)
        throw new ShapeError('concat', `all inputs must share a dtype; got ${first.dtype} and ${x.dtype}`);
      if (x.rank !== first.rank || x.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new ShapeError('concat', `shapes ${fmt(first.shape)} and ${fmt(x.shape)} differ outside axis ${axis}`);
      }
    }
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    return { shape, dtype: first.dtype };
  },
  ref(xs, { axis }, out) {
    const res = ndarray(out.shape, out.dtype);
    const outer = sizeOf(out.shape.slice(0, axis));
    const inner = sizeOf(out.shape.slice(axis + 1));
    let offset = 0;
    for (const x of xs) {
      const chunk = x.shape[axis]! * inner;
      for (let o = 0; o < outer; o++)
        res.data.set(x.data.subarray(o * chunk, (o + 1) * chunk), o * out.shape[axis]! * inner + offset);
      offset += chunk;
    }
    return res;
  },
  grad: ({ g, inputs, attrs: { axis } }) => {
    let start = 0;
    return inputs.map((x) => {
      const part = slice(g, axis, start, start + x.shape[axis]!);
      start += x.shape[axis]!;
      return floatGrad(x, part);
    });
  },
  lower: (ctx, xs, { axis }) => ctx.op('Concat', xs, { axis: { int: axis } }),
};

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat', 'needs at least one tensor');
  if (xs.length === 1) return xs[0]!;
  return apply(concatOp, xs, { axis: normalizeAxis('concat', axis, xs[0]!.rank) });
}

/** Splits along an axis into pieces of the given sizes (or n equal pieces). */
export function split(x: Tensor, axis: number, sizes: number | readonly number[]): Tensor[] {
  const a = normalizeAxis('split', axis, x.rank);
  const n = x.shape[a]!;
  const parts = typeof sizes === 'number' ? Array<number>(sizes).fill(n / sizes) : [...sizes];
  if (parts.some((p) => !Number.isInteger(p) || p < 0) || parts.reduce((s, p) => s + p, 0) !== n) {
    throw new ShapeError('split', `sizes ${fmt(parts)} do not split dimension ${a} of size ${n}`);
  }
  let start = 0;
  return parts.map((p) => slice(x, a, start, (start += p)));
}

// ---------------------------------------------------------------- expand
export const expandOp: OpDef<{ shape: number[] }> = {
  name: 'expand',
  infer([x], { shape }) {
    if (!validDims(shape)) throw new ShapeError('expand', `target shape ${fmt(shape)} must hold non-negative integers`);
    const out = broadcastShapes('expand', x!.shape, shape);
    if (out.length !== shape.length || out.some((d, i) => d !== shape[i]))
      throw new ShapeError('expand', `cannot expand ${fmt(x!.shape)} to ${fmt(shape)}`);
    return { shape: out, dtype: x!.dtype };
  },
  ref([x], _a, out) {
    const map = broadcastIndex(x!.shape, out.shape);
    const res = ndarray(out.shape, out.dtype);
    for (let i = 0; i < map.length; i++) res.data[i] = x!.data[map[i]!]!;
    return res;
  },
  grad: ({ g, inputs: [x] }) => [floatGrad(x!, sumToShape(g, x!.shape))],
  lower: (ctx, [x], { shape }) => ctx.op('Expand', [x!, ctx.int64s(shape)]),
};

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (x.rank === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  return apply(expandOp, [x], { shape: [...shape] });
}

/** Inserts a size-1 axis. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  if (!Number.isInteger(axis) || axis < -(x.rank + 1) || axis > x.rank) {
    throw new ShapeError(
      'unsqueeze',
      `axis ${axis} is out of range for inserting into ${fmt(x.shape)} (use -${x.rank + 1}..${x.rank})`,
    );
  }
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}
