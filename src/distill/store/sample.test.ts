// Sampled targets: the weights are an unbiased estimate of the teacher's distribution, each
// position's draws are its own (the same whichever shard or rerun labels it), and a sampled store
// serves what the sampler drew from the teacher's logits.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { hostTensor, mulberry32, ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { labelDataset } from './label.ts';
import { drawCounts, PAD_LOGPROB, sampledTargets } from './sample.ts';
import { StoreReader } from './store.ts';
import { StoreTeacher } from './teacher.ts';

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

test("sampled weights are unbiased: their mean over many seeds approaches the teacher's probabilities", () => {
  const logits = [2, 0.5, -1, 1.2, -3, 0, 0.8, -0.5, 1.5, -2, 0.2, -1.5, 0.9, -0.8, 0.1, -4];
  const p = softmax(logits);
  const V = logits.length,
    slots = 12,
    seeds = 4000;
  const mean = new Array<number>(V).fill(0);
  for (let seed = 0; seed < seeds; seed++) {
    const r = sampledTargets(logits, V, { seq: 1, vocabSize: V, slots, seed, example: 0 });
    let sum = 0;
    for (let j = 0; j < slots; j++) {
      const w = Math.exp(r.logprobs[j]!);
      mean[r.ids[j]!]! += w / seeds;
      sum += w;
    }
    assert.ok(Math.abs(sum - 1) < 1e-6, 'the weights of one position sum to 1');
  }
  // Each weight is a mean of 12 draws: standard error sqrt(p(1 − p) / (12·4000)) ≤ 0.0023; allow 4 of them.
  p.forEach((pi, i) => assert.ok(Math.abs(mean[i]! - pi) < 0.0092, `token ${i}: mean weight ${mean[i]} vs p ${pi}`));
});

test('a position keeps its distinct draws first, most drawn first, then weight-0 padding on unused ids', () => {
  const logits = [5, 4, -20, -20, -20, -20, -20, -20, -20, -20, -20, -20, -20, -20];
  const r = sampledTargets([...logits, ...logits], logits.length, {
    seq: 2,
    vocabSize: logits.length,
    slots: 12,
    seed: 3,
    example: 5,
  });
  for (let t = 0; t < 2; t++) {
    const ids = [...r.ids.subarray(t * 12, t * 12 + 12)],
      lps = [...r.logprobs.subarray(t * 12, t * 12 + 12)];
    assert.equal(new Set(ids).size, 12, 'ids are distinct');
    const drawn = lps.filter((v) => v !== PAD_LOGPROB).length;
    assert.ok(drawn >= 1 && drawn <= 3, `${drawn} distinct tokens from a two-token distribution`);
    assert.deepEqual(
      ids.slice(drawn).sort((a, b) => a - b),
      ids.slice(drawn),
      'padding takes the smallest unused ids',
    );
    for (let j = 1; j < drawn; j++) assert.ok(lps[j]! <= lps[j - 1]!, 'most drawn first');
  }
  assert.ok(
    r.tail.every((v) => v === PAD_LOGPROB),
    'no mass outside the entries',
  );
  // The same seed, example and position draw the same tokens; another example draws its own.
  const again = sampledTargets(logits, logits.length, { seq: 1, vocabSize: 14, slots: 12, seed: 3, example: 5 });
  assert.deepEqual(again.logprobs, r.logprobs.subarray(0, 12));
  const counts = Array.from({ length: 20 }, (_, e) => {
    const x = sampledTargets(logits, 14, { seq: 1, vocabSize: 14, slots: 12, seed: 3, example: e });
    return x.logprobs[0];
  });
  assert.ok(new Set(counts).size > 1, 'examples draw from their own streams');
  assert.throws(
    () => sampledTargets(logits, 14, { seq: 1, vocabSize: 8, slots: 12, seed: 0, example: 0 }),
    /at most 8/,
  );
});

test('drawCounts: n draws, all of them landing on tokens with mass', () => {
  const rng = mulberry32(1);
  const { ids, counts } = drawCounts([0, -Infinity, 1, -Infinity], 0, 4, 50, rng);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    50,
  );
  assert.ok(ids.every((i) => i === 0 || i === 2));
});

test("a sampled store serves the sampler's draws from the teacher's logits, flagged as sampled", async () => {
  const V = 20,
    T = 4;
  const model = new Gpt2({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 1, nHeads: 2 });
  const teacher = new LocalTeacher('t', model, ParamStore.init(model.params.values(), 1));
  const rng = mulberry32(2);
  const examples = Array.from({ length: 5 }, () => Int32Array.from({ length: T }, () => Math.floor(rng() * V)));
  const dir = mkdtempSync(join(tmpdir(), 'retort-sampled-'));
  try {
    await labelDataset(teacher, examples, dir, { topK: 20, targets: 'sampled', samples: 6, seed: 4, tokenizer: 'tok' });
    const reader = new StoreReader(dir);
    assert.deepEqual([reader.layout.targets, reader.layout.topK, reader.layout.seed], ['sampled', 6, 4]);
    const store = new StoreTeacher('s', reader, examples);
    assert.deepEqual(store.sparse, { targets: 'sampled', tail: true });
    const ids = hostTensor('int64', [1, T], examples[3]!);
    const logits = (await teacher.score({ ids, logits: true })).logits!.data as Float32Array;
    const want = sampledTargets(logits, V, { seq: T, vocabSize: V, slots: 6, seed: 4, example: 3 });
    const got = await store.score({ ids, topK: 6 });
    assert.deepEqual([...got.topk!.ids.data].map(Number), [...want.ids]);
    got.topk!.logprobs.data.forEach((v, j) =>
      assert.ok(Math.abs(Number(v) - want.logprobs[j]!) <= Math.abs(want.logprobs[j]!) * 2 ** -11),
    );
    await assert.rejects(
      store.score({ ids, topK: 4 }),
      /holds sampled targets, 6 slots per position.*set the term's topK to 6/,
    );
    reader.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});
