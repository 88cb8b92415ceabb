// The reference interpreter's value type. Every element is held as a float64, whatever the
// graph dtype: integers used in graphs (ids, labels, indices) are far below 2^53, so the
// oracle stays exact while each kernel needs only one code path.
import type { DType } from './dtype.ts';

export interface NDArray {
  shape: number[];
  dtype: DType;
  data: Float64Array;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function ndarray(shape: readonly number[], dtype: DType, data?: ArrayLike<number>): NDArray {
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  if (data) {
    if (data.length !== n)
      throw new Error(`ndarray: ${data.length} values given for shape [${shape.join(', ')}] which holds ${n}`);
    out.set(data);
  }
  return { shape: [...shape], dtype, data: out };
}

/** Rounds a value the way storing it in `dtype` would (float32 rounding, integer truncation, bool). */
export function castValue(v: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(v);
    case 'float64':
      return v;
    case 'int64':
    case 'int32':
      return Math.trunc(v);
    case 'bool':
      return v !== 0 ? 1 : 0;
  }
}

/**
 * Maps each flat index of `outShape` to the flat index of an input of shape `inShape`
 * broadcast to it (numpy rules: align right, size-1 dims repeat).
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = sizeOf(outShape);
  const map = new Int32Array(n);
  const rank = outShape.length;
  const offset = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  const eff = outShape.map((_, d) => {
    const k = d - offset;
    return k < 0 || inShape[k] === 1 ? 0 : inStrides[k]!;
  });
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < n; i++) {
    map[i] = src;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += eff[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= eff[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

/** The multi-index of flat position `flat` in a row-major array of `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}
