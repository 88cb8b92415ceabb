// Conversions between Float32 and the two 16-bit float formats checkpoints ship in.
// F16 is IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits); BF16 is the top half of a float32
// (1, 8, 7), so it converts by a shift. Narrowing rounds to nearest, ties to even, as PyTorch does.
import type { SafetensorsDType, TensorData } from './dtypes.ts';

let f16Table: Float32Array | undefined;

/** All 65536 binary16 values decoded once (256 KiB), so converting a big tensor is one lookup per element. */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0)
      table[h] = sign * mant * 2 ** -24; // zero and subnormals
    else if (exp === 0x1f) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  f16Table = table;
  return table;
}

export function f16BitsToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
  at = 0,
): Float32Array {
  const table = f16ToF32Table();
  for (let i = 0; i < bits.length; i++) out[at + i] = table[bits[i]!]!;
  return out;
}

export function bf16BitsToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
  at = 0,
): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) outBits[at + i] = bits[i]! << 16;
  return out;
}

/** Narrows one float32 bit pattern to binary16, round to nearest even; overflow becomes ±Infinity. */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf stays Inf, NaN stays (quiet) NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000; // restore the implicit leading one
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // a carry into the exponent is still correct
  return sign | r;
}

export function float32ToF16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16(bits[i]!);
  return out;
}

export function float32ToBf16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff)
      out[i] = (x >>> 16) | 0x40; // keep NaN a NaN
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/**
 * Any tensor's elements as Float32. F32 data is returned as is (not copied); every other dtype is
 * converted into a new array. I64/U64 beyond 2^24 lose precision, as any float32 cast does.
 */
export function toFloat32(tensor: { dtype: SafetensorsDType; data: TensorData }): Float32Array {
  if (tensor.dtype === 'F32') return tensor.data as Float32Array;
  return convertInto(tensor, new Float32Array(tensor.data.length), 0);
}

/**
 * Writes a tensor's elements as Float32 into out[at ..], so a reader can convert a big tensor a piece at
 * a time straight into its destination instead of holding its raw bytes and a converted copy at once.
 */
export function convertInto(
  tensor: { dtype: SafetensorsDType; data: TensorData },
  out: Float32Array,
  at: number,
): Float32Array {
  const { dtype, data } = tensor;
  if (at < 0 || at + data.length > out.length)
    throw new RangeError(`convertInto: ${data.length} elements at ${at} do not fit an array of ${out.length}`);
  switch (dtype) {
    case 'F16':
      return f16BitsToFloat32(data as Uint16Array, out, at);
    case 'BF16':
      return bf16BitsToFloat32(data as Uint16Array, out, at);
    case 'I64':
    case 'U64': {
      const src = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < src.length; i++) out[at + i] = Number(src[i]!);
      return out;
    }
    default:
      out.set(data as Exclude<TensorData, BigInt64Array | BigUint64Array>, at);
      return out;
  }
}

/** Float32 values packed as `dtype`, ready to write: F16/BF16 give their 16-bit patterns. */
export function fromFloat32(values: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Float32Array | Uint16Array {
  if (dtype === 'F32') return values;
  return dtype === 'F16' ? float32ToF16Bits(values) : float32ToBf16Bits(values);
}
