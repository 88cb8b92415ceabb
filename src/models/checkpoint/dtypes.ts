// The safetensors dtypes Retort reads and writes: one row per dtype, so adding one touches one place.
// Names are the strings that appear in a safetensors header ("F32", "BF16", ...).

export type SafetensorsDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** The typed array that holds each dtype's elements. F16 and BF16 keep their raw 16-bit patterns; see toFloat32. */
export interface DTypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  /** One byte per element, 0 or 1, as the reference implementation stores bool. */
  BOOL: Uint8Array;
}
export type TensorData = DTypeArrays[SafetensorsDType];

interface DTypeRow {
  /**
   * Position in the reference implementation's Dtype enum (safetensors/src/tensor.rs). Its writer lays
   * tensors out by descending rank, then by name; we do the same so files match it byte for byte and every
   * tensor's data stays aligned to its element size. Gaps are the F8 dtypes we do not read.
   */
  rank: number;
  /** Bytes per element. */
  size: number;
  /** Builds the element view over bytes that are already aligned to `size`. */
  view: (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorData;
  /** The constructor a caller's array must be an instance of when writing this dtype. */
  arrayType: { new (length: number): TensorData; readonly name: string };
}

export const DTYPES = {
  F64: { rank: 12, size: 8, view: (b, o, n) => new Float64Array(b, o, n), arrayType: Float64Array },
  F32: { rank: 11, size: 4, view: (b, o, n) => new Float32Array(b, o, n), arrayType: Float32Array },
  F16: { rank: 7, size: 2, view: (b, o, n) => new Uint16Array(b, o, n), arrayType: Uint16Array },
  BF16: { rank: 8, size: 2, view: (b, o, n) => new Uint16Array(b, o, n), arrayType: Uint16Array },
  I64: { rank: 13, size: 8, view: (b, o, n) => new BigInt64Array(b, o, n), arrayType: BigInt64Array },
  I32: { rank: 9, size: 4, view: (b, o, n) => new Int32Array(b, o, n), arrayType: Int32Array },
  I16: { rank: 5, size: 2, view: (b, o, n) => new Int16Array(b, o, n), arrayType: Int16Array },
  I8: { rank: 2, size: 1, view: (b, o, n) => new Int8Array(b, o, n), arrayType: Int8Array },
  U64: { rank: 14, size: 8, view: (b, o, n) => new BigUint64Array(b, o, n), arrayType: BigUint64Array },
  U32: { rank: 10, size: 4, view: (b, o, n) => new Uint32Array(b, o, n), arrayType: Uint32Array },
  U16: { rank: 6, size: 2, view: (b, o, n) => new Uint16Array(b, o, n), arrayType: Uint16Array },
  U8: { rank: 1, size: 1, view: (b, o, n) => new Uint8Array(b, o, n), arrayType: Uint8Array },
  BOOL: { rank: 0, size: 1, view: (b, o, n) => new Uint8Array(b, o, n), arrayType: Uint8Array },
} satisfies Record<SafetensorsDType, DTypeRow>;

export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s);
}

/** Number of elements of a shape; [] (a scalar) has one. */
export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
