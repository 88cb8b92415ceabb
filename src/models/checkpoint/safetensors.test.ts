import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, serializeSafetensors, writeSafetensors, type Tensor } from './safetensors.ts';
import { atomicWriteFile, atomicWrite } from '../../io/atomic-write.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'retort-st-'));

/** A file laid out the way the reference writer does it: u64 LE length, compact JSON padded with spaces to 8, data. */
function referenceFile(headerJson: string, data: Uint8Array): Uint8Array {
  const padded = headerJson + ' '.repeat((8 - (headerJson.length % 8)) % 8);
  const out = new Uint8Array(8 + padded.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
  out.set(new TextEncoder().encode(padded), 8);
  out.set(data, 8 + padded.length);
  return out;
}

const f32Bytes = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

function allDtypes(): Record<string, Tensor> {
  return {
    'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([0, 1.5, -2, 3.25, 1e-8, -0]) },
    'h.0.ln.weight': { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
    'h.0.mlp.weight': { dtype: 'BF16', shape: [2, 1], data: new Uint16Array([0x3f80, 0xbf80]) },
    f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
    position_ids: { dtype: 'I64', shape: [1, 3], data: new BigInt64Array([0n, 1n, -(2n ** 62n)]) },
    i32: { dtype: 'I32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    mask: { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };
}

test('round trip through a file keeps every dtype, shape, value and the metadata', () => {
  const path = join(tmp(), 'model.safetensors');
  const tensors = allDtypes();
  writeSafetensors(path, tensors, { format: 'pt' });
  const back = readSafetensors(path);
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.equal(back.tensors.size, Object.keys(tensors).length);
  for (const [name, t] of Object.entries(tensors)) {
    const got = back.tensors.get(name)!;
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), name);
  }
  // The same bytes in memory read the same way.
  assert.deepEqual(readSafetensors(serializeSafetensors(tensors, { format: 'pt' })).tensors, back.tensors);
});

test('data area is 8-byte aligned and tensors are laid out by descending dtype, then name', () => {
  const bytes = serializeSafetensors(allDtypes());
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const order = Object.keys(header);
  assert.deepEqual(order, [
    'position_ids',
    'f64',
    'empty',
    'h.0.attn.c_attn.weight',
    'scalar',
    'i32',
    'h.0.mlp.weight',
    'h.0.ln.weight',
    'u8',
    'mask',
  ]);
  for (const info of Object.values(header) as { dtype: string; data_offsets: [number, number] }[]) {
    const size = { F64: 8, I64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, U8: 1, BOOL: 1 }[info.dtype]!;
    assert.equal(info.data_offsets[0] % size, 0, `${info.dtype} data must start aligned`);
  }
});

test('reads a file laid out by the Python reference writer, and writes the same bytes', () => {
  // What safetensors.torch.save_file({"attn.0": torch.arange(6.).reshape(1,2,3)}) writes.
  const single = referenceFile(
    '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}',
    f32Bytes([0, 1, 2, 3, 4, 5]),
  );
  const a = readSafetensors(single, { name: 'attn.safetensors' });
  const t = a.tensors.get('attn.0')!;
  assert.equal(t.dtype, 'F32');
  assert.deepEqual(t.shape, [1, 2, 3]);
  assert.deepEqual(Array.from(t.data as Float32Array), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(a.metadata, {});
  assert.deepEqual(serializeSafetensors(a.tensors), single);

  // Mixed dtypes with metadata: __metadata__ first, F32 before F16 (descending dtype), padding spaces.
  const header =
    '{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}';
  const data = new Uint8Array([0x00, 0x00, 0x80, 0xbf, 0x00, 0x3c, 0x00, 0x40]); // -1.0f32, then f16 1.0 and 2.0
  const mixed = referenceFile(header, data);
  const m = readSafetensors(mixed);
  assert.deepEqual(m.metadata, { format: 'pt' });
  assert.deepEqual(Array.from(m.tensors.get('b')!.data as Float32Array), [-1]);
  assert.deepEqual(Array.from(m.tensors.get('a')!.data as Uint16Array), [0x3c00, 0x4000]);
  assert.deepEqual(serializeSafetensors(m.tensors, m.metadata), mixed);

  // An empty file with only metadata, as the reference test suite has it: 8 bytes of length, 40 of header.
  const empty = serializeSafetensors({}, { framework: 'pt' });
  assert.equal(empty.length, 48);
  assert.equal(new TextDecoder().decode(empty.subarray(8)), '{"__metadata__":{"framework":"pt"}}     ');
});

test('a truncated file is refused with the file, the tensor and a fix in the message', () => {
  const dir = tmp();
  const path = join(dir, 'model.safetensors');
  const full = serializeSafetensors({
    'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [1024], data: new Float32Array(1024) },
  });
  writeFileSync(path, full.subarray(0, full.length - 2048));
  assert.throws(
    () => readSafetensors(path),
    (err: Error) =>
      err.message.includes(path) &&
      err.message.includes(
        "tensor 'h.0.attn.c_attn.weight' claims bytes 0..4096 but the file's data area is only 2048 bytes",
      ) &&
      err.message.includes('download or write it again'),
  );
  writeFileSync(path, full.subarray(0, 30)); // cut inside the header
  assert.throws(() => readSafetensors(path), /header claims \d+ bytes but only 22 follow/);
  writeFileSync(path, full.subarray(0, 5));
  assert.throws(() => readSafetensors(path), /shorter than the 8-byte header length/);
});

test('lying headers are refused: overlap, gap, wrong length, trailing bytes, huge or non-JSON header', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'overlap',
      referenceFile(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        new Uint8Array(12),
      ),
      /tensor 'b' claims bytes 4\.\.12, which overlap tensor 'a'/,
    ],
    [
      'gap',
      referenceFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      /tensor 'a' starts at byte 4, leaving a gap/,
    ],
    [
      'wrong length',
      referenceFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}', new Uint8Array(12)),
      /tensor 'a' \(F32, shape \[2\]\) needs 8 bytes but its data_offsets 0\.\.12 span 12/,
    ],
    [
      'trailing bytes',
      referenceFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(9)),
      /tensors cover 4 bytes of the data area but the file has 9/,
    ],
    [
      'bad offsets',
      referenceFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', new Uint8Array(8)),
      /data_offsets \[8,4\]/,
    ],
    [
      'unknown dtype',
      referenceFile('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
      /dtype "F8_E4M3", which Retort does not read/,
    ],
    ['not JSON', referenceFile('{"a":', new Uint8Array(0)), /header is not valid UTF-8 JSON/],
    [
      'metadata not strings',
      referenceFile('{"__metadata__":{"step":3}}', new Uint8Array(0)),
      /"__metadata__" value 'step' must be a string/,
    ],
  ];
  for (const [label, bytes, pattern] of cases) {
    assert.throws(
      () => readSafetensors(bytes, { name: 'bad.safetensors' }),
      (err: Error) => pattern.test(err.message) && err.message.startsWith('bad.safetensors: '),
      label,
    );
  }
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
  assert.throws(() => readSafetensors(huge), /over the 100 MB limit/);
});

test('writing refuses data that does not match its dtype or shape', () => {
  const path = join(tmp(), 'x.safetensors');
  assert.throws(
    () => writeSafetensors(path, { w: { dtype: 'F16', shape: [2], data: new Float32Array(2) as never } }),
    /tensor 'w': dtype F16 needs a Uint16Array, got Float32Array/,
  );
  assert.throws(
    () => writeSafetensors(path, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
    /shape \[2, 2\] has 4 elements but data has 3/,
  );
});

test('writes are atomic: a failed write leaves the old file and no temp file behind', () => {
  const dir = tmp();
  const path = join(dir, 'model.safetensors');
  writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
  const before = readFileSync(path);
  assert.throws(
    () =>
      atomicWrite(path, () => {
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  atomicWriteFile(path, 'replaced');
  assert.equal(readFileSync(path, 'utf8'), 'replaced');
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
});
