import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from './safetensors.ts';
import { INDEX_FILE, openCheckpoint, readCheckpoint, readShardedSafetensors } from './sharded.ts';

function shardedCheckpoint(): string {
  const dir = mkdtempSync(join(tmpdir(), 'retort-shards-'));
  const one = 'model-00001-of-00002.safetensors';
  const two = 'model-00002-of-00002.safetensors';
  writeSafetensors(
    join(dir, one),
    {
      'model.embed_tokens.weight': { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      'model.layers.0.mlp.weight': { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
      'stale.extra': { dtype: 'F32', shape: [1], data: new Float32Array([9]) },
    },
    { format: 'pt' },
  );
  writeSafetensors(
    join(dir, two),
    { 'lm_head.weight': { dtype: 'F32', shape: [2], data: new Float32Array([5, 6]) } },
    { format: 'pt' },
  );
  const index = {
    metadata: { total_size: 26 },
    weight_map: { 'model.embed_tokens.weight': one, 'model.layers.0.mlp.weight': one, 'lm_head.weight': two },
  };
  writeFileSync(join(dir, INDEX_FILE), JSON.stringify(index));
  return dir;
}

test('a sharded index merges its shards into one map', () => {
  const dir = shardedCheckpoint();
  const ckpt = readCheckpoint(dir);
  assert.deepEqual([...ckpt.tensors.keys()].sort(), [
    'lm_head.weight',
    'model.embed_tokens.weight',
    'model.layers.0.mlp.weight',
  ]);
  assert.deepEqual(Array.from(ckpt.tensors.get('lm_head.weight')!.data as Float32Array), [5, 6]);
  assert.deepEqual(ckpt.tensors.get('model.embed_tokens.weight')!.shape, [2, 2]);
  assert.deepEqual(ckpt.metadata, { format: 'pt' });
  assert.ok(!ckpt.tensors.has('stale.extra'), 'tensors the index does not list are left out');
});

test('a missing shard is named in the error', () => {
  const dir = shardedCheckpoint();
  rmSync(join(dir, 'model-00002-of-00002.safetensors'));
  assert.throws(
    () => readShardedSafetensors(join(dir, INDEX_FILE)),
    /shard 'model-00002-of-00002\.safetensors' \(holds 1 tensors, e\.g\. 'lm_head\.weight'\) is missing/,
  );
});

test('an index that names a tensor its shard lacks is refused', () => {
  const dir = shardedCheckpoint();
  writeFileSync(
    join(dir, INDEX_FILE),
    JSON.stringify({ weight_map: { 'ghost.weight': 'model-00002-of-00002.safetensors' } }),
  );
  assert.throws(
    () => readCheckpoint(dir),
    /the index says tensor 'ghost\.weight' is here, but the shard does not hold it/,
  );
  writeFileSync(join(dir, INDEX_FILE), '{"weight_map": [1]}');
  assert.throws(() => readCheckpoint(dir), /expected \{"weight_map"/);
});

test('a folder with neither file says what it looked for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-empty-'));
  assert.throws(() => readCheckpoint(dir), /no model\.safetensors or model\.safetensors\.index\.json/);
});

test('an opened sharded checkpoint reads each tensor from its shard, as float32', () => {
  const dir = shardedCheckpoint();
  const ckpt = openCheckpoint(dir);
  try {
    assert.equal(ckpt.tensors.get('lm_head.weight')!.file, join(dir, 'model-00002-of-00002.safetensors'));
    assert.equal(ckpt.tensors.get('model.layers.0.mlp.weight')!.dtype, 'BF16');
    assert.deepEqual(Array.from(ckpt.readFloat32('model.layers.0.mlp.weight')), [1]);
    assert.deepEqual(Array.from(ckpt.readFloat32('lm_head.weight')), [5, 6]);
    assert.throws(() => ckpt.readFloat32('stale.extra'), /the index lists no tensor 'stale\.extra'/);
  } finally {
    ckpt.close();
  }
});

/** Open file descriptors of this process (Linux), to see that a failed open leaves none behind. */
const openFds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);

test('every shard header is checked when opening, and a bad shard is named with nothing left open', () => {
  const dir = shardedCheckpoint();
  const two = join(dir, 'model-00002-of-00002.safetensors');
  truncateSync(two, 20); // inside its header
  const before = openFds();
  assert.throws(
    () => openCheckpoint(dir),
    (err: Error) => err.message.startsWith(`${two}: header claims`),
  );
  assert.equal(openFds(), before, 'the first shard, opened before the second failed, is closed again');
});
