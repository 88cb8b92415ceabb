import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { float32ToBf16Bits, float32ToF16Bits, toFloat32 } from './float16.ts';
import { openSafetensors } from './safetensors-reader.ts';
import { serializeSafetensors, writeSafetensors, type Tensor } from './safetensors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'retort-str-'));

/** Values that exercise rounding and sign; `n` of them. */
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i % 1999) - 999) / 37);

function tensors(): Record<string, Tensor> {
  // Over 4 MiB of F16/BF16, more than one scratch buffer: the conversion runs in several pieces.
  const big = (1 << 21) + 3;
  return {
    f16_big: { dtype: 'F16', shape: [big], data: float32ToF16Bits(ramp(big)) },
    bf16_big: { dtype: 'BF16', shape: [big], data: float32ToBf16Bits(ramp(big)) },
    f32: { dtype: 'F32', shape: [2, 3], data: new Float32Array([0, 1.5, -2, 3.25, 1e-8, -0]) },
    f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
    i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([0n, -5n, 2n ** 40n]) },
    i32: { dtype: 'I32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    mask: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
    scalar: { dtype: 'BF16', shape: [], data: new Uint16Array([0x3f80]) },
    empty: { dtype: 'F16', shape: [0, 4], data: new Uint16Array(0) },
  };
}

test('readFloat32 converts every dtype as toFloat32 does, a piece at a time for tensors over the scratch size', () => {
  const path = join(tmp(), 'model.safetensors');
  const written = tensors();
  writeSafetensors(path, written);
  for (const source of [path, serializeSafetensors(written)]) {
    const reader = openSafetensors(source);
    try {
      assert.deepEqual([...reader.tensors.keys()].sort(), Object.keys(written).sort());
      for (const [name, t] of Object.entries(written)) {
        const info = reader.tensors.get(name)!;
        assert.equal(info.dtype, t.dtype, name);
        assert.deepEqual(info.shape, t.shape, name);
        const got = reader.readFloat32(name);
        assert.ok(got instanceof Float32Array, name);
        assert.deepEqual(got, toFloat32(t), `values of ${name}`);
        assert.deepEqual(reader.read(name).data, t.data, `raw ${name}`);
      }
    } finally {
      reader.close();
    }
  }
});

test('opening reads only the header: a file cut short afterwards is refused naming the file and the tensor', () => {
  const path = join(tmp(), 'model.safetensors');
  writeSafetensors(path, {
    'model.embed_tokens.weight': { dtype: 'BF16', shape: [4096], data: new Uint16Array(4096) },
    'model.norm.weight': { dtype: 'BF16', shape: [8], data: new Uint16Array(8) },
  });
  const reader = openSafetensors(path);
  try {
    truncateSync(path, 1000);
    assert.equal(reader.tensors.get('model.embed_tokens.weight')!.file, path);
    assert.throws(
      () => reader.readFloat32('model.embed_tokens.weight'),
      (err: Error) =>
        err.message.startsWith(`${path}: tensor 'model.embed_tokens.weight': the file ended at byte 1000`) &&
        err.message.includes('it changed while being read'),
    );
  } finally {
    reader.close();
  }
});

test('asking for a tensor the file lacks names the file and one it has', () => {
  const reader = openSafetensors(
    serializeSafetensors({ 'lm_head.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) } }),
    { name: 'head.safetensors' },
  );
  assert.throws(
    () => reader.readFloat32('lm_head.bias'),
    /^Error: head\.safetensors: no tensor 'lm_head\.bias' in this file \(it has 1, e\.g\. 'lm_head\.weight'\)/,
  );
  reader.close();
  reader.close(); // closing twice is harmless
});
