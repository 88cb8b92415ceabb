import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../runtime/index.ts';
import { applyRepetitionPenalty, candidates, makeSampler } from './sampling.ts';

const row = (...xs: number[]) => Float32Array.from(xs);

/** Frequencies of each token over n draws. */
function frequencies(logits: Float32Array, o: Parameters<typeof makeSampler>[0], n: number, seed = 1): number[] {
  const sample = makeSampler(o, mulberry32(seed));
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sample(logits, [])]!++;
  return counts.map((c) => c / n);
}

test('greedy picks the largest logit, the first one on ties', () => {
  const sample = makeSampler({}, () => 0.5);
  assert.equal(sample(row(0.1, 2, -1, 2), []), 1);
  assert.equal(sample(row(-3, -2, -5), []), 1);
});

test('repetition penalty divides positive and multiplies negative logits of seen tokens, once each', () => {
  const x = row(2, -2, 1, 4);
  applyRepetitionPenalty(x, [0, 1, 1, 3, 3, 3], 2);
  assert.deepEqual([...x], [1, -4, 1, 2]);
  // Greedy now prefers the unseen token 2 over the repeated 3.
  assert.equal(makeSampler({ repetitionPenalty: 5 }, Math.random)(row(0, 0, 1, 2), [3]), 2);
});

test('sampling follows softmax(logits / temperature)', () => {
  const f = frequencies(row(0, Math.log(3)), { temperature: 1 }, 4000);
  assert.ok(Math.abs(f[1]! - 0.75) < 0.03, `P(1) = ${f[1]} should be near 0.75`);
  // Temperature 2 flattens: p ∝ exp(x / 2) gives sqrt(3) : 1, so P(1) = 0.634.
  const g = frequencies(row(0, Math.log(3)), { temperature: 2 }, 4000);
  assert.ok(Math.abs(g[1]! - Math.sqrt(3) / (1 + Math.sqrt(3))) < 0.03, `P(1) = ${g[1]} at temperature 2`);
});

test('top-k keeps the k most likely tokens (and ties with the k-th)', () => {
  const f = frequencies(row(3, 2, 1, 0, 2.5), { temperature: 5, topK: 2 }, 2000);
  assert.equal(f[1]! + f[2]! + f[3]!, 0);
  assert.ok(f[0]! > 0.4 && f[4]! > 0.4);
  assert.deepEqual(candidates(row(1, 3, 3, 2), 1, 1, 1).ids, [1, 2]);
});

test('top-p keeps the smallest most-likely set reaching p', () => {
  const logits = row(Math.log(0.5), Math.log(0.3), Math.log(0.2));
  assert.deepEqual(candidates(logits, 1, 0, 0.7).ids, [0, 1]);
  assert.deepEqual(candidates(logits, 1, 0, 0.5).ids, [0]);
  assert.deepEqual(candidates(logits, 1, 0, 0.81).ids, [0, 1, 2]);
  const f = frequencies(logits, { temperature: 1, topP: 0.7 }, 2000);
  assert.equal(f[2], 0);
  assert.ok(Math.abs(f[0]! - 0.5 / 0.8) < 0.04, `renormalized P(0) = ${f[0]}`);
});

test('seeded sampling is reproducible and depends on the seed', () => {
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
  const draws = (seed: number) => {
    const s = makeSampler({ temperature: 1.5, topK: 20, topP: 0.95 }, mulberry32(seed));
    return Array.from({ length: 30 }, () => s(logits, []));
  };
  assert.deepEqual(draws(7), draws(7));
  assert.notDeepEqual(draws(7), draws(8));
});

test('bad options fail naming the option', () => {
  assert.throws(() => makeSampler({ temperature: -1 }, Math.random), /temperature/);
  assert.throws(() => makeSampler({ topK: 1.5 }, Math.random), /topK/);
  assert.throws(() => makeSampler({ topP: 0 }, Math.random), /topP/);
  assert.throws(() => makeSampler({ repetitionPenalty: 0 }, Math.random), /repetitionPenalty/);
});
