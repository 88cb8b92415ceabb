// ggml tensor types GGUF export writes, one row each: F32, F16, and the block-quantized Q8_0 and
// Q4_0 (32 values per block with one fp16 scale, as ggml-quants.c lays them out):
//   Q8_0: d = max|x| / 127, q = round(x / d) as int8; a block is d (2 bytes) + 32 bytes.
//   Q4_0: d = m / −8 where m is the value of largest magnitude (sign kept), q = clamp(round(x / d) + 8,
//         0, 15); byte j holds q[j] in its low nibble and q[j + 16] in its high one; d + 16 bytes.
// Dequantizing (for tests and size/quality checks) is the inverse: x = d · q (Q8_0), d · (q − 8) (Q4_0).
import { f16BitsToFloat32, float32ToF16Bits } from '../../models/checkpoint/float16.ts';

export type GgmlTypeName = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

export interface GgmlTypeRow {
  /** ggml's enum value (ggml.h). */
  id: number;
  /** Values per block (1 for the float types). */
  block: number;
  /** Bytes per block. */
  blockBytes: number;
  encode(x: Float32Array): Uint8Array;
  decode(b: Uint8Array, n: number): Float32Array;
}

const BLOCK = 32;
const halfOf = (v: number): number => float32ToF16Bits(Float32Array.of(v))[0]!;
const floatOfHalf = (bits: number): number => f16BitsToFloat32(Uint16Array.of(bits))[0]!;

function blocks(
  x: Float32Array,
  bytes: number,
  each: (x: Float32Array, out: DataView, at: number) => void,
): Uint8Array {
  if (x.length % BLOCK !== 0)
    throw new Error(`ggml block quantization needs a multiple of ${BLOCK} values per row, got ${x.length}`);
  const out = new Uint8Array((x.length / BLOCK) * bytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / BLOCK; b++) each(x.subarray(b * BLOCK, (b + 1) * BLOCK), view, b * bytes);
  return out;
}

export const GGML_TYPES: Record<GgmlTypeName, GgmlTypeRow> = {
  F32: {
    id: 0,
    block: 1,
    blockBytes: 4,
    encode: (x) => new Uint8Array(Float32Array.from(x).buffer),
    decode: (b, n) => new Float32Array(b.slice(0, n * 4).buffer),
  },
  F16: {
    id: 1,
    block: 1,
    blockBytes: 2,
    encode: (x) => new Uint8Array(float32ToF16Bits(x).buffer),
    decode: (b, n) => f16BitsToFloat32(new Uint16Array(b.slice(0, n * 2).buffer)),
  },
  Q8_0: {
    id: 8,
    block: BLOCK,
    blockBytes: 2 + BLOCK,
    encode: (x) =>
      blocks(x, 2 + BLOCK, (v, out, at) => {
        let amax = 0;
        for (const e of v) amax = Math.max(amax, Math.abs(e));
        const d = amax / 127;
        const id = d ? 1 / d : 0;
        out.setUint16(at, halfOf(d), true);
        // roundf: halves away from zero.
        for (let j = 0; j < BLOCK; j++) out.setInt8(at + 2 + j, Math.sign(v[j]!) * Math.round(Math.abs(v[j]! * id)));
      }),
    decode: (b, n) => {
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const out = new Float32Array(n);
      for (let k = 0; k < n / BLOCK; k++) {
        const d = floatOfHalf(view.getUint16(k * 34, true));
        for (let j = 0; j < BLOCK; j++) out[k * BLOCK + j] = d * view.getInt8(k * 34 + 2 + j);
      }
      return out;
    },
  },
  Q4_0: {
    id: 2,
    block: BLOCK,
    blockBytes: 2 + BLOCK / 2,
    encode: (x) =>
      blocks(x, 2 + BLOCK / 2, (v, out, at) => {
        let amax = 0;
        let max = 0;
        for (const e of v) {
          if (Math.abs(e) > amax) {
            amax = Math.abs(e);
            max = e;
          }
        }
        const d = max / -8;
        const id = d ? 1 / d : 0;
        out.setUint16(at, halfOf(d), true);
        const q = (e: number) => Math.min(15, Math.trunc(e * id + 8.5));
        for (let j = 0; j < BLOCK / 2; j++) out.setUint8(at + 2 + j, q(v[j]!) | (q(v[j + BLOCK / 2]!) << 4));
      }),
    decode: (b, n) => {
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const out = new Float32Array(n);
      for (let k = 0; k < n / BLOCK; k++) {
        const d = floatOfHalf(view.getUint16(k * 18, true));
        for (let j = 0; j < BLOCK / 2; j++) {
          const byte = view.getUint8(k * 18 + 2 + j);
          out[k * BLOCK + j] = d * ((byte & 0x0f) - 8);
          out[k * BLOCK + j + BLOCK / 2] = d * ((byte >> 4) - 8);
        }
      }
      return out;
    },
  },
};

export const GGML_TYPE_BY_ID = new Map(Object.entries(GGML_TYPES).map(([name, row]) => [row.id, name as GgmlTypeName]));
