import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { hostTensor, type HostTensor } from '../../runtime/index.ts';
import { configHash } from './hash.ts';
import {
  listCheckpoints,
  loadCheckpoint,
  resolveCheckpoint,
  saveCheckpoint,
  type CheckpointContents,
} from './checkpoint.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'retort-ckpt-'));

function contents(step: number, over: Partial<CheckpointContents> = {}): CheckpointContents {
  const params = new Map<string, HostTensor>([
    ['transformer.wte.weight', hostTensor('float32', [3, 2], [1, 2, 3, 4, 5, step])],
    ['transformer.ln_f.bias', hostTensor('float32', [2], [0.5, -0.5])],
  ]);
  const opt = new Map<string, HostTensor>([
    ['m.transformer.wte.weight', hostTensor('float32', [3, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])],
    ['v.transformer.wte.weight', hostTensor('float32', [3, 2], [1, 1, 1, 1, 1, 1])],
  ]);
  return {
    step,
    params,
    opt,
    optimizer: { kind: 'adamw' },
    cursor: { index: step * 2 },
    trainer: { evalsSinceBest: 0 },
    configHash: configHash({ lr: 1 }),
    metric: null,
    best: null,
    ...over,
  };
}

test('a checkpoint round-trips params, optimizer state, cursor and manifest', () => {
  const root = tmp();
  const path = saveCheckpoint(root, contents(10, { extraFiles: { 'config.json': '{"n_embd": 2}' } }), { keep: 3 });
  assert.equal(basename(path), 'ckpt-10');
  assert.equal(resolveCheckpoint(root), path);
  const c = loadCheckpoint(path);
  assert.equal(c.manifest.step, 10);
  assert.deepEqual(c.manifest.cursor, { index: 20 });
  assert.deepEqual(Array.from(c.params.get('transformer.wte.weight')!.data as Float32Array), [1, 2, 3, 4, 5, 10]);
  assert.deepEqual(c.params.get('transformer.ln_f.bias')!.shape, [2]);
  assert.deepEqual(
    Array.from(c.opt.get('m.transformer.wte.weight')!.data as Float32Array),
    Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])),
  );
  assert.deepEqual(c.optimizer, { kind: 'adamw' });
  assert.deepEqual(Object.keys(c.manifest.files).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
  assert.ok(!readdirSync(root).some((n) => n.endsWith('.tmp')), 'no temp folder is left behind');
  rmSync(root, { recursive: true });
});

test('a truncated parameter file is refused, naming the file', () => {
  const root = tmp();
  const path = saveCheckpoint(root, contents(5), { keep: 0 });
  const file = join(path, 'model.safetensors');
  truncateSync(file, readFileSync(file).length - 7);
  assert.throws(
    () => loadCheckpoint(path),
    (e: Error) => e.message.includes(file) && /truncated/.test(e.message),
  );
  rmSync(root, { recursive: true });
});

test('a flipped byte is caught by the checksum, naming the file and the other checkpoints', () => {
  const root = tmp();
  saveCheckpoint(root, contents(5), { keep: 0 });
  const path = saveCheckpoint(root, contents(10), { keep: 0 });
  const file = join(path, 'optimizer.safetensors');
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 0x40;
  writeFileSync(file, bytes);
  assert.throws(
    () => loadCheckpoint(path),
    (e: Error) => e.message.includes(file) && /sha256/.test(e.message) && /ckpt-5/.test(e.message),
  );
  rmSync(root, { recursive: true });
});

test('a folder without a manifest or with a garbled one is refused', () => {
  const root = tmp();
  const path = saveCheckpoint(root, contents(3), { keep: 0 });
  writeFileSync(join(path, 'manifest.json'), '{"format": "retort.train-checkpoint", "version": 1, "step": ');
  assert.throws(() => loadCheckpoint(path), /manifest\.json: is not valid JSON/);
  rmSync(join(path, 'manifest.json'));
  assert.throws(() => loadCheckpoint(path), /manifest\.json: missing/);
  rmSync(root, { recursive: true });
});

test('keeps the last N plus the best; latest and best pointers follow', () => {
  const root = tmp();
  for (const step of [1, 2, 3, 4, 5, 6]) saveCheckpoint(root, contents(step), { keep: 2, isBest: step === 2 });
  assert.deepEqual(
    listCheckpoints(root).map((c) => c.step),
    [2, 5, 6],
  );
  assert.equal(basename(resolveCheckpoint(root)!), 'ckpt-6');
  assert.equal(basename(resolveCheckpoint(root, 'best')!), 'ckpt-2');
  rmSync(root, { recursive: true });
});

test('saving a step again replaces that checkpoint whole', () => {
  const root = tmp();
  saveCheckpoint(root, contents(4, { cursor: { index: 1 } }), { keep: 0 });
  const path = saveCheckpoint(root, contents(4, { cursor: { index: 2 } }), { keep: 0 });
  assert.deepEqual(loadCheckpoint(path).manifest.cursor, { index: 2 });
  assert.deepEqual(readdirSync(root).sort(), ['ckpt-4', 'latest']);
  rmSync(root, { recursive: true });
});

test('a latest pointer naming a missing folder is reported with the alternatives', () => {
  const root = tmp();
  saveCheckpoint(root, contents(1), { keep: 0 });
  const p = saveCheckpoint(root, contents(2), { keep: 0 });
  rmSync(p, { recursive: true });
  assert.throws(
    () => resolveCheckpoint(root),
    /latest: names ckpt-2, which does not exist; other checkpoints there: ckpt-1/,
  );
  assert.ok(existsSync(join(root, 'ckpt-1')));
  rmSync(root, { recursive: true });
});
