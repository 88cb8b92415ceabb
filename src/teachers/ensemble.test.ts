// The ensemble teacher: dense mixtures equal log Σ w·softmax computed by hand; top-k is the
// mixture's; members giving only top-k lists are mixed over the union of their lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gpt2 } from '../models/gpt2/model.ts';
import { hostTensor, ParamStore } from '../runtime/index.ts';
import { EnsembleTeacher } from './ensemble.ts';
import { LocalTeacher } from './local.ts';
import type { Teacher } from './teacher.ts';

const V = 12,
  T = 5;
const model = new Gpt2({ vocabSize: V, maxPositions: T, dModel: 8, nLayers: 1, nHeads: 2 });
const a = new LocalTeacher('a', model, ParamStore.init(model.params.values(), 1));
const b = new LocalTeacher('b', model, ParamStore.init(model.params.values(), 2));
const ids = hostTensor('int64', [2, T], [1, 2, 3, 4, 5, 11, 10, 9, 8, 7]);

function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row),
    z = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
  return row.map((x) => x - z);
}

/** The same teacher seen only through its top-k lists (as an API gives it). */
const topkOnly = (t: Teacher): Teacher => ({
  ...t,
  kind: t.kind,
  name: t.name,
  fingerprint: t.fingerprint,
  info: t.info,
  capabilities: { logits: false, topK: true, hidden: false, attentions: false },
  score: (r) => t.score(r),
});

test("dense mixture equals log(w_a softmax_a + w_b softmax_b); top-k is the mixture's", async () => {
  const ens = new EnsembleTeacher('ab', [
    { teacher: a, weight: 3 },
    { teacher: b, weight: 1 },
  ]);
  const [ea, eb, got] = await Promise.all([
    a.score({ ids, logits: true }),
    b.score({ ids, logits: true }),
    ens.score({ ids, logits: true, topK: 3 }),
  ]);
  const za = ea.logits!.data as Float32Array,
    zb = eb.logits!.data as Float32Array,
    zg = got.logits!.data as Float32Array;
  for (let r = 0; r < 2 * T; r++) {
    const la = logSoftmax(Array.from(za.subarray(r * V, (r + 1) * V))),
      lb = logSoftmax(Array.from(zb.subarray(r * V, (r + 1) * V)));
    const want = la.map((x, j) => Math.log(0.75 * Math.exp(x) + 0.25 * Math.exp(lb[j]!)));
    want.forEach((w, j) => assert.ok(Math.abs(zg[r * V + j]! - w) < 1e-5));
    const order = want
      .map((_, j) => j)
      .sort((x, y) => want[y]! - want[x]!)
      .slice(0, 3);
    assert.deepEqual([...(got.topk!.ids.data as BigInt64Array)].slice(r * 3, r * 3 + 3).map(Number), order);
  }
  const same = new EnsembleTeacher('aa', [{ teacher: a }, { teacher: a }]);
  const one = await same.score({ ids, topK: 4 }),
    direct = await a.score({ ids, topK: 4 });
  assert.deepEqual(one.topk!.ids.data, direct.topk!.ids.data);
});

test('top-k-only members mix over the union of their lists; mismatched vocabularies are refused', async () => {
  const ens = new EnsembleTeacher('ab', [{ teacher: topkOnly(a) }, { teacher: topkOnly(b) }]);
  assert.equal(ens.capabilities.logits, false);
  const got = await ens.score({ ids, topK: 2 });
  const [ta, tb] = await Promise.all([a.score({ ids, topK: 2 }), b.score({ ids, topK: 2 })]);
  for (let p = 0; p < 2 * T; p++) {
    const mass = new Map<number, number>();
    for (const t of [ta, tb])
      for (let j = 0; j < 2; j++) {
        const id = Number(t.topk!.ids.data[p * 2 + j]);
        mass.set(id, (mass.get(id) ?? 0) + 0.5 * Math.exp(Number(t.topk!.logprobs.data[p * 2 + j])));
      }
    const best = [...mass].sort((x, y) => y[1] - x[1])[0]!;
    assert.equal(Number(got.topk!.ids.data[p * 2]), best[0]);
    assert.ok(Math.abs(Number(got.topk!.logprobs.data[p * 2]) - Math.log(best[1])) < 1e-5);
  }
  const other = new Gpt2({ vocabSize: V + 1, maxPositions: T, dModel: 8, nLayers: 1, nHeads: 2 });
  assert.throws(
    () =>
      new EnsembleTeacher('x', [
        { teacher: a },
        { teacher: new LocalTeacher('c', other, ParamStore.init(other.params.values(), 1)) },
      ]),
    /must share one vocabulary/,
  );
  await assert.rejects(ens.score({ ids, hidden: [0] }), /cannot return hidden/);
});
