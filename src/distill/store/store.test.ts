import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { hostTensor, mulberry32, ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { datasetHash, labelDataset } from './label.ts';
import { StoreReader, StoreWriter } from './store.ts';
import { StoreTeacher } from './teacher.ts';

const V = 20,
  T = 6;
const model = new Gpt2({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 2, nHeads: 2 });
const teacher = new LocalTeacher('t', model, ParamStore.init(model.params.values(), 1));
const rng = mulberry32(3);
const examples = Array.from({ length: 10 }, () => Int32Array.from({ length: T }, () => Math.floor(rng() * V)));
const tmp = () => mkdtempSync(join(tmpdir(), 'retort-store-'));

test('a labelled store returns exactly what the live teacher says', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 4, hidden: [2], tokenizer: 'tok', batch: 3 });
  const store = new StoreTeacher('cached', new StoreReader(dir), examples);
  const ids = hostTensor('int64', [2, T], [...examples[7]!, ...examples[2]!]);
  const live = await teacher.score({ ids, topK: 4, hidden: [2] });
  const cached = await store.score({ ids, topK: 4, hidden: [2] });
  assert.deepEqual(cached.topk!.ids.data, live.topk!.ids.data);
  assert.deepEqual(cached.topk!.logprobs.data, live.topk!.logprobs.data);
  assert.deepEqual(cached.hidden![0]!.data, live.hidden![0]!.data);
  rmSync(dir, { recursive: true });
});

test('a killed labelling run resumes and holds each example once', async () => {
  const dir = tmp();
  const identity = { teacher: teacher.fingerprint, tokenizer: 'tok', dataset: datasetHash(examples) };
  // First run: 5 examples committed, then 2 written but never committed (the process "dies").
  const w = StoreWriter.open(dir, identity, { seq: T, topK: 4, vocabSize: V }, { commitEvery: 5 });
  const rec = { ids: new Int32Array(T * 4), logprobs: new Float32Array(T * 4), hidden: [] };
  for (let i = 0; i < 7; i++) w.append(rec);
  assert.equal(new StoreReader(dir).count, 5);
  // Second run: picks up at example 5 and labels the rest for real.
  const r = await labelDataset(teacher, examples, dir, { topK: 4, tokenizer: 'tok' });
  assert.deepEqual(r, { labelled: 5, skipped: 5 });
  const reader = new StoreReader(dir);
  assert.equal(reader.count, 10);
  assert.equal(readFileSync(join(dir, 'records.bin')).length, 10 * (16 + T * 4 * 8), 'no uncommitted tail left behind');
  for (let i = 0; i < 10; i++) reader.get(i);
  rmSync(dir, { recursive: true });
});

test('outputs of another teacher, tokenizer or dataset are refused', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'tok' });
  const other = new LocalTeacher('u', model, ParamStore.init(model.params.values(), 2));
  await assert.rejects(labelDataset(other, examples, dir, { topK: 2, tokenizer: 'tok' }), /holds outputs for teacher/);
  await assert.rejects(
    labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'other' }),
    /holds outputs for tokenizer/,
  );
  await assert.rejects(
    labelDataset(teacher, examples.slice(1), dir, { topK: 2, tokenizer: 'tok' }),
    /holds outputs for dataset/,
  );
  assert.throws(
    () => new StoreReader(dir, { teacher: 'x', tokenizer: 'tok', dataset: datasetHash(examples) }),
    /holds outputs for teacher/,
  );
  rmSync(dir, { recursive: true });
});

test('a damaged store is refused, not half-read', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'tok' });
  const path = join(dir, 'records.bin');
  const bytes = readFileSync(path);
  bytes[16 + 3] ^= 0xff; // a flipped bit inside record 0's payload
  writeFileSync(path, bytes);
  assert.throws(() => new StoreReader(dir).get(0), /record 0 fails its checksum/);
  writeFileSync(path, bytes.subarray(0, 100));
  assert.throws(() => new StoreReader(dir), /truncated/);
  writeFileSync(join(dir, 'manifest.json'), '{"format":"retort-teacher-store"');
  assert.throws(() => new StoreReader(dir), /cannot read the store manifest/);
  rmSync(dir, { recursive: true });
});
