import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32ToBf16Bits, float32ToF16Bits, fromFloat32, toFloat32 } from './float16.ts';

test('F16 bit patterns decode to the values IEEE binary16 defines', () => {
  const bits = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x7c00, 0xfc00]);
  const got = toFloat32({ dtype: 'F16', data: bits });
  assert.deepEqual(Array.from(got), [0, -0, 1, -2, 65504, 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity]);
  assert.ok(Number.isNaN(toFloat32({ dtype: 'F16', data: new Uint16Array([0x7e00]) })[0]));
});

test('F16 narrowing rounds to nearest, ties to even, and saturates to Infinity', () => {
  const xs = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 65519, 2 ** -25, 2 ** -25 * 1.5, 1e-10, -3.5]);
  assert.deepEqual(Array.from(float32ToF16Bits(xs)), [0x3c00, 0x3c02, 0x7c00, 0x7bff, 0x0000, 0x0001, 0x0000, 0xc300]);
  // Every finite F16 value survives F16 -> F32 -> F16.
  const all = new Uint16Array(65536).map((_, i) => i);
  const finite = all.filter((h) => (h & 0x7c00) !== 0x7c00);
  assert.deepEqual(float32ToF16Bits(toFloat32({ dtype: 'F16', data: finite })), finite);
});

test('BF16 is the top half of a float32, rounded to nearest even', () => {
  assert.deepEqual(
    Array.from(toFloat32({ dtype: 'BF16', data: new Uint16Array([0x3f80, 0xc040, 0x0000]) })),
    [1, -3, 0],
  );
  const xs = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -1.5, NaN]);
  const bits = float32ToBf16Bits(xs);
  assert.deepEqual(Array.from(bits.subarray(0, 3)), [0x3f80, 0x3f82, 0xbfc0]);
  assert.ok(Number.isNaN(toFloat32({ dtype: 'BF16', data: bits })[3]));
  assert.deepEqual(
    Array.from(toFloat32({ dtype: 'BF16', data: fromFloat32(new Float32Array([0.5, 256]), 'BF16') as Uint16Array })),
    [0.5, 256],
  );
});

test('toFloat32 converts integer and bool tensors too', () => {
  assert.deepEqual(Array.from(toFloat32({ dtype: 'I64', data: new BigInt64Array([-3n, 7n]) })), [-3, 7]);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'BOOL', data: new Uint8Array([1, 0]) })), [1, 0]);
  const f = new Float32Array([1]);
  assert.equal(toFloat32({ dtype: 'F32', data: f }), f, 'F32 is returned without a copy');
});
