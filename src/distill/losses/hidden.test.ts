// Layer maps, and the hidden-state loss against plain-JS values, with finite differences through
// the student's hidden states and the learned projections.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { input } from '../../graph/index.ts';
import { HiddenStateLoss, hiddenLossSchema } from './hidden.ts';
import { layerPairs, pairWeights } from './layer-map.ts';
import { createLoss } from './rules.ts';
import { assertClose, f64, finiteDifferenceCheck, i64, randomValues, rows, runRef } from './testing.ts';

test('uniform map: student block s ↔ teacher block round(s·Lt/Ls), last to last', () => {
  assert.deepEqual(layerPairs({ kind: 'uniform' }, 4, 12), [
    [1, 3],
    [2, 6],
    [3, 9],
    [4, 12],
  ]);
  assert.deepEqual(layerPairs({ kind: 'uniform', includeEmbeddings: true }, 3, 12), [
    [0, 0],
    [1, 4],
    [2, 8],
    [3, 12],
  ]);
  assert.deepEqual(layerPairs({ kind: 'uniform' }, 4, 6), [
    [1, 2],
    [2, 3],
    [3, 5],
    [4, 6],
  ]); // halves round up
  assert.deepEqual(layerPairs({ kind: 'uniform' }, 5, 2), [
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 2],
    [5, 2],
  ]); // never the embeddings
});

test('last-k and explicit pairs; out-of-range pairs and embeddings for attention fail with a hint', () => {
  assert.deepEqual(layerPairs({ kind: 'last-k', k: 2 }, 4, 12), [
    [3, 11],
    [4, 12],
  ]);
  assert.deepEqual(
    layerPairs(
      {
        kind: 'pairs',
        pairs: [
          [0, 0],
          [2, 7],
        ],
      },
      2,
      12,
    ),
    [
      [0, 0],
      [2, 7],
    ],
  );
  assert.throws(() => layerPairs({ kind: 'last-k', k: 5 }, 4, 12), /k = 5 but the student has 4 blocks/);
  assert.throws(
    () => layerPairs({ kind: 'pairs', pairs: [[3, 1]] }, 2, 12),
    /out of range: the student has layers 0\.\.2/,
  );
  assert.throws(
    () => layerPairs({ kind: 'pairs', pairs: [[0, 0]] }, 2, 12, false),
    /layer 0 \(the embeddings\), which has no attention/,
  );
  assert.throws(
    () =>
      pairWeights(
        [1],
        [
          [1, 1],
          [2, 2],
        ],
        'loss',
      ),
    /1 layer weights for 2 layer pairs/,
  );
});

const B = 2,
  T = 3,
  CS = 3,
  CT = 4;
const MASK = [1, 1, 0, 1, 1, 1];
const dims = { student: { layers: 2, hidden: CS }, teacher: { layers: 4, hidden: CT }, dtype: 'float64' as const };

/** Student hidden sh0..sh2 (B, T, Cs), teacher th0..th4 (B, T, Ct), projection weights and a mask, with values. */
function setup(bias: boolean) {
  const sh = [0, 1, 2].map((i) => input(`sh${i}`, [B, T, CS], 'float64'));
  const th = [0, 1, 2, 3, 4].map((i) => input(`th${i}`, [B, T, CT], 'float64'));
  const values: Record<string, number[]> = {};
  sh.forEach((_, i) => (values[`sh${i}`] = randomValues(B * T * CS, 20 + i)));
  th.forEach((_, i) => (values[`th${i}`] = randomValues(B * T * CT, 30 + i)));
  for (const i of [0, 1]) {
    values[`distill.proj.${i}.weight`] = randomValues(CT * CS, 40 + i, 0.8);
    if (bias) values[`distill.proj.${i}.bias`] = randomValues(CT, 50 + i, 0.3);
  }
  const feeds = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [
      k,
      f64(
        k.startsWith('sh') ? [B, T, CS] : k.endsWith('weight') ? [CT, CS] : k.endsWith('bias') ? [CT] : [B, T, CT],
        v,
      ),
    ]),
  );
  return { sh, th, values, feeds: { ...feeds, mask: i64([B, T], MASK) } };
}

/** The loss from the definitions: y = W·h (+ b) per position, distance, masked mean, weighted mean over pairs. */
function expectedJs(
  values: Record<string, number[]>,
  metric: 'mse' | 'cosine',
  pairs: [number, number][],
  weights: number[],
  bias: boolean,
): number {
  const pairLoss = ([s, t]: [number, number], i: number) => {
    const W = rows(values[`distill.proj.${i}.weight`]!, CS),
      b = bias ? values[`distill.proj.${i}.bias`]! : Array(CT).fill(0);
    const hs = rows(values[`sh${s}`]!, CS),
      ht = rows(values[`th${t}`]!, CT);
    let sum = 0,
      n = 0;
    hs.forEach((h, p) => {
      if (!MASK[p]) return;
      const y = W.map((w, o) => w.reduce((acc, wk, k) => acc + wk * h[k]!, b[o]!));
      const z = ht[p]!;
      if (metric === 'mse') sum += y.reduce((acc, yo, o) => acc + (yo - z[o]!) ** 2, 0) / CT;
      else {
        const dot = y.reduce((acc, yo, o) => acc + yo * z[o]!, 0);
        const nn = y.reduce((a, v) => a + v * v, 0) * z.reduce((a, v) => a + v * v, 0);
        sum += 1 - dot / Math.sqrt(nn + 1e-12);
      }
      n++;
    });
    return sum / n;
  };
  const ls = pairs.map(pairLoss);
  return ls.reduce((acc, l, i) => acc + weights[i]! * l, 0) / weights.reduce((a, w) => a + w, 0);
}

for (const metric of ['mse', 'cosine'] as const) {
  for (const bias of [false, true]) {
    test(`hidden-state loss, ${metric}${bias ? ', projection bias' : ''}: hand-computed value and finite differences`, async () => {
      const cfg = hiddenLossSchema.parse({ kind: 'hidden', metric, projectionBias: bias, weights: [1, 3] });
      const loss = new HiddenStateLoss(cfg, dims);
      assert.deepEqual(loss.pairs, [
        [1, 2],
        [2, 4],
      ]);
      assert.deepEqual(
        [...loss.params.keys()],
        bias
          ? ['distill.proj.0.weight', 'distill.proj.0.bias', 'distill.proj.1.weight', 'distill.proj.1.bias']
          : ['distill.proj.0.weight', 'distill.proj.1.weight'],
      );
      const { sh, th, values, feeds } = setup(bias);
      const out = loss.forward({
        student: { hidden: sh },
        teacher: { hidden: th },
        mask: input('mask', [B, T], 'int64'),
      });
      const got = (await runRef({ loss: out.loss }, feeds)).loss![0]!;
      assertClose(
        got,
        expectedJs(
          values,
          metric,
          [
            [1, 2],
            [2, 4],
          ],
          [1, 3],
          bias,
        ),
        1e-12,
        metric,
      );
      const wrt = [
        'sh1',
        'sh2',
        'distill.proj.0.weight',
        'distill.proj.1.weight',
        ...(bias ? ['distill.proj.0.bias'] : []),
      ];
      await finiteDifferenceCheck(out.loss, feeds, wrt);
    });
  }
}

test('hidden-state loss: masked positions contribute nothing; projection none compares directly', async () => {
  const cfg = hiddenLossSchema.parse({
    kind: 'hidden',
    layers: { kind: 'pairs', pairs: [[2, 4]] },
    projection: 'none',
  });
  const same = { student: { layers: 2, hidden: CT }, teacher: { layers: 4, hidden: CT }, dtype: 'float64' as const };
  const loss = new HiddenStateLoss(cfg, same);
  assert.equal(loss.params.size, 0);
  const s = input('s', [B, T, CT], 'float64'),
    t = input('t', [B, T, CT], 'float64');
  const hs = [s, s, s],
    ht = [t, t, t, t, t];
  const out = loss.forward({ student: { hidden: hs }, teacher: { hidden: ht }, mask: input('mask', [B, T], 'int64') });
  const sv = randomValues(B * T * CT, 60),
    tv = randomValues(B * T * CT, 61);
  const run = (svals: number[]) =>
    runRef({ l: out.loss }, { s: f64([B, T, CT], svals), t: f64([B, T, CT], tv), mask: i64([B, T], MASK) });
  const a = (await run(sv)).l![0]!;
  const want =
    rows(sv, CT).reduce(
      (acc, r, p) => acc + (MASK[p] ? r.reduce((x, v, c) => x + (v - tv[p * CT + c]!) ** 2, 0) / CT : 0),
      0,
    ) / 5;
  assertClose(a, want, 1e-12, 'direct mse');
  const b = (await run(sv.map((v, j) => (Math.floor(j / CT) === 2 ? 1e3 : v)))).l![0]!;
  assertClose(b, a, 1e-14, 'masked position changed');
  assert.throws(
    () => new HiddenStateLoss(cfg, dims),
    /projection 'none' compares states directly, but the student is 3 wide and the teacher 4/,
  );
  assert.throws(() => createLoss({ kind: 'hidden' }), /pass dims/);
});
