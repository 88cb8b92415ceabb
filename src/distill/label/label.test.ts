// Sharded labelling with an in-process teacher: shards merge into the store one pass would write;
// a missing, incomplete or doubled shard, or one of another teacher, is refused by name.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { hostTensor, mulberry32, ParamStore } from '../../runtime/index.ts';
import { BudgetExhaustedError } from '../../teachers/http/client.ts';
import { LocalTeacher } from '../../teachers/local.ts';
import type { Teacher } from '../../teachers/teacher.ts';
import { StoreReader, StoreTeacher } from '../store/index.ts';
import { labelShard, type MergeError, mergeShards, parseShard, shardRange } from './index.ts';

const V = 24,
  T = 6,
  K = 3;
const model = new Gpt2({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 1, nHeads: 2 });
const teacher = new LocalTeacher('t', model, ParamStore.init(model.params.values(), 1));
const other = new LocalTeacher('u', model, ParamStore.init(model.params.values(), 2));
const rng = mulberry32(5);
const examples = Array.from({ length: 11 }, () => Int32Array.from({ length: T }, () => Math.floor(rng() * V)));
const base = { examples, topK: K, tokenizer: 'tok', batch: 2 };

test('shards cover every example once and parse from "i/n"', () => {
  for (const n of [1, 3, 4, 11]) {
    const seen: number[] = [];
    for (let i = 0; i < n; i++) {
      const [a, b] = shardRange(11, { index: i, count: n });
      for (let j = a; j < b; j++) seen.push(j);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 11 }, (_, j) => j),
    );
  }
  assert.deepEqual(parseShard('2/8'), { index: 2, count: 8 });
  assert.throws(() => parseShard('8/8'), /index must be in 0..7/);
  assert.throws(() => parseShard('two'), /expected "i\/n"/);
});

test('three shards merge into one store that serves what the live teacher says', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retort-label-'));
  try {
    for (let i = 0; i < 3; i++) {
      const r = await labelShard({ ...base, teacher, shard: { index: i, count: 3 }, root });
      assert.ok(r.complete);
    }
    const out = join(root, 'merged');
    assert.deepEqual(mergeShards(root, out), { out, shards: 3, examples: 11 });
    const store = new StoreTeacher('merged', new StoreReader(out), examples);
    const ids = hostTensor(
      'int64',
      [examples.length, T],
      examples.flatMap((e) => [...e]),
    );
    const [live, cached] = await Promise.all([teacher.score({ ids, topK: K }), store.score({ ids, topK: K })]);
    assert.deepEqual(cached.topk!.ids.data, live.topk!.ids.data);
    // The default compact encoding keeps log-probs to fp16's 2^-11.
    (live.topk!.logprobs.data as Float32Array).forEach((want, j) =>
      assert.ok(Math.abs(Number(cached.topk!.logprobs.data[j]) - want) <= Math.abs(want) * 2 ** -11),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('sampled shards draw what one pass draws: each example draws from its dataset index', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retort-label-'));
  try {
    const sampled = { ...base, targets: 'sampled' as const, samples: 5, seed: 2 };
    for (let i = 0; i < 3; i++) {
      const r = await labelShard({ ...sampled, teacher, shard: { index: i, count: 3 }, root });
      // Header, fp16 weights (6 × 5), fp16 tails (6), 30 ids of 5 bits (19 bytes), 1 byte of padding.
      assert.equal(r.bytesPerToken, (16 + 60 + 12 + 19 + 1) / T);
    }
    mergeShards(root, join(root, 'merged'));
    const one = await labelShard({ ...sampled, teacher, shard: { index: 0, count: 1 }, root: join(root, 'one') });
    const [a, b] = [new StoreReader(join(root, 'merged')), new StoreReader(one.dir)];
    assert.equal(a.layout.targets, 'sampled');
    for (let i = 0; i < examples.length; i++) assert.deepEqual(a.get(i), b.get(i), `example ${i}`);
    a.close();
    b.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('missing, incomplete, doubled and foreign shards are refused; an interrupted shard resumes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retort-label-'));
  try {
    await labelShard({ ...base, teacher, shard: { index: 0, count: 3 }, root });
    assert.throws(
      () => mergeShards(root, join(root, 'm1')),
      (e: MergeError) => /shard\(s\) 1, 2 of 3 missing/.test(e.message),
    );
    // Shard 1 stops after its first batch (2 of its 4 examples).
    const stop = new AbortController();
    const part = await labelShard({
      ...base,
      teacher,
      shard: { index: 1, count: 3 },
      root,
      signal: stop.signal,
      onProgress: () => stop.abort(),
    });
    assert.deepEqual([part.complete, part.labelled, part.stopped], [false, 2, 'aborted']);
    await labelShard({ ...base, teacher, shard: { index: 2, count: 3 }, root });
    assert.throws(
      () => mergeShards(root, join(root, 'm2')),
      /incomplete: 2 of 4 examples labelled \(examples 5..6 missing\)/,
    );
    const rest = await labelShard({ ...base, teacher, shard: { index: 1, count: 3 }, root });
    assert.deepEqual([rest.complete, rest.skipped, rest.labelled], [true, 2, 2]);
    // Another teacher's outputs never land in this run's stores.
    await assert.rejects(
      labelShard({ ...base, teacher: other, shard: { index: 1, count: 3 }, root }),
      /holds outputs for teacher/,
    );
    // A shard copied under a second name would double its examples.
    cpSync(join(root, 'shard-00001-of-00003'), join(root, 'copy-of-shard-1'), { recursive: true });
    assert.throws(() => mergeShards(root, join(root, 'm3')), /shard 1\/3 appears 2 times/);
    rmSync(join(root, 'copy-of-shard-1'), { recursive: true });
    assert.equal(mergeShards(root, join(root, 'm4')).examples, 11);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a spent budget stops the shard cleanly after its last committed batch; a later run finishes it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retort-label-'));
  try {
    let calls = 0;
    const metered: Teacher = {
      ...teacher,
      kind: 'retort',
      name: 't',
      fingerprint: teacher.fingerprint,
      info: teacher.info,
      capabilities: teacher.capabilities,
      score: (r) =>
        ++calls > 2
          ? Promise.reject(new BudgetExhaustedError('budget exhausted: 2 of 2 requests used'))
          : teacher.score(r),
    };
    const stopOn = (e: unknown) => e instanceof BudgetExhaustedError;
    const r = await labelShard({ ...base, teacher: metered, shard: { index: 0, count: 1 }, root, stopOn });
    assert.deepEqual([r.complete, r.labelled], [false, 4]);
    assert.match(r.stopped!, /budget exhausted/);
    const rest = await labelShard({ ...base, teacher, shard: { index: 0, count: 1 }, root, stopOn });
    assert.deepEqual([rest.complete, rest.skipped, rest.labelled], [true, 4, 7]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
