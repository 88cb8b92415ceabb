// Batched matrix multiply with optional transposes of the last two axes. Backward passes are
// matmuls with flipped transpose flags, so no Transpose node is ever materialized for them
// (2-D ones lower to Gemm with its transpose flags; batched ones to com.microsoft FusedMatMul
// where contrib ops are allowed, else Transpose+MatMul).
import { isFloat } from '../dtype.ts';
import { ndarray, sizeOf, stridesOf } from '../ndarray.ts';
import type { OpDef } from '../op.ts';
import { broadcastShapes, fmt, ShapeError } from '../shape.ts';
import { apply, type Tensor } from '../tensor.ts';
import { sumToShape } from './reduce.ts';

export interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

function dims(shape: readonly number[], trans: boolean): [number, number] {
  const r = shape.length;
  return trans ? [shape[r - 1]!, shape[r - 2]!] : [shape[r - 2]!, shape[r - 1]!];
}

function batchOffset(batchIdx: number, batchShape: number[], own: readonly number[], matSize: number): number {
  const ownBatch = own.slice(0, -2);
  const lead = batchShape.length - ownBatch.length;
  const st = stridesOf(ownBatch);
  let rem = batchIdx,
    off = 0;
  const bst = stridesOf(batchShape);
  for (let d = 0; d < batchShape.length; d++) {
    const i = Math.floor(rem / bst[d]!);
    rem -= i * bst[d]!;
    const k = d - lead;
    if (k >= 0 && ownBatch[k] !== 1) off += i * st[k]!;
  }
  return off * matSize;
}

export const matmulOp: OpDef<MatmulAttrs> = {
  name: 'matmul',
  infer([a, b], { transA, transB }) {
    if (a!.rank < 2 || b!.rank < 2)
      throw new ShapeError(
        'matmul',
        `both operands need rank >= 2, got ${fmt(a!.shape)} and ${fmt(b!.shape)}; reshape vectors to (1, n) or (n, 1)`,
      );
    if (a!.dtype !== b!.dtype)
      throw new ShapeError('matmul', `operands have different dtypes ${a!.dtype} and ${b!.dtype}`);
    const [m, k] = dims(a!.shape, transA);
    const [k2, n] = dims(b!.shape, transB);
    if (k !== k2) {
      throw new ShapeError(
        'matmul',
        `inner dimensions differ: ${fmt(a!.shape)}${transA ? 'ᵀ' : ''} @ ${fmt(b!.shape)}${transB ? 'ᵀ' : ''} contracts ${k} with ${k2}`,
      );
    }
    const batch = broadcastShapes('matmul (batch dims)', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return { shape: [...batch, m, n], dtype: a!.dtype };
  },
  ref([a, b], { transA, transB }, out) {
    const [m, k] = dims(a!.shape, transA);
    const [, n] = dims(b!.shape, transB);
    const batchShape = out.shape.slice(0, -2);
    const res = ndarray(out.shape, out.dtype);
    const A = a!.data,
      B = b!.data,
      C = res.data;
    // Element (i, p) of op(A): strides depend on the transpose flag.
    const [ai, ap] = transA ? [1, m] : [k, 1];
    const [bp, bj] = transB ? [1, k] : [n, 1];
    for (let bi = 0; bi < sizeOf(batchShape); bi++) {
      const oa = batchOffset(bi, batchShape, a!.shape, m * k);
      const ob = batchOffset(bi, batchShape, b!.shape, k * n);
      const oc = bi * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += A[oa + i * ai + p * ap]! * B[ob + p * bp + j * bj]!;
          C[oc + i * n + j] = s;
        }
      }
    }
    return res;
  },
  grad({ g, inputs: [a, b], attrs: { transA, transB } }) {
    const da = transA ? matmul(b!, g, { transA: transB, transB: true }) : matmul(g, b!, { transB: !transB });
    const db = transB ? matmul(g, a!, { transA: true, transB: transA }) : matmul(a!, g, { transA: !transA });
    return [isFloat(a!.dtype) ? sumToShape(da, a!.shape) : null, isFloat(b!.dtype) ? sumToShape(db, b!.shape) : null];
  },
  lower(ctx, [a, b], { transA, transB }, out) {
    if (!transA && !transB) return ctx.op('MatMul', [a!, b!]);
    const [ta, tb] = [out.inputs[0]!, out.inputs[1]!];
    // Gemm reads transposed operands in place (MLAS packs either layout), so 2-D backward
    // matmuls need no copy; it is also far faster than FusedMatMul's transposed paths.
    if (ta.rank === 2 && tb.rank === 2)
      return ctx.op('Gemm', [a!, b!], { transA: { int: transA ? 1 : 0 }, transB: { int: transB ? 1 : 0 } });
    if (ctx.contribOps) {
      return ctx.op(
        'FusedMatMul',
        [a!, b!],
        { transA: { int: transA ? 1 : 0 }, transB: { int: transB ? 1 : 0 }, alpha: { float: 1 } },
        'com.microsoft',
      );
    }
    const swapLast = (name: string, rank: number) => {
      const perm = [...Array(rank).keys()];
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
      return ctx.op('Transpose', [name], { perm: { ints: perm } });
    };
    return ctx.op('MatMul', [transA ? swapLast(a!, ta.rank) : a!, transB ? swapLast(b!, tb.rank) : b!]);
  },
};

/** a @ b over the last two axes; leading axes broadcast. `transA`/`transB` transpose the operand first. */
export function matmul(a: Tensor, b: Tensor, opts: Partial<MatmulAttrs> = {}): Tensor {
  return apply(matmulOp, [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
}
