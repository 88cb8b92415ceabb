// Attention-map KL and MiniLM's value relations against plain-JS values, their zero/positive
// property, masking, and gradients against finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGrads } from '../../runtime/gradcheck.ts';
import { causalMask, input, softmax } from '../../graph/index.ts';
import { attentionMapKl } from './attention.ts';
import { assertClose, f64, i64, klJs, mean, randomValues, runRef, softmaxJs } from './testing.ts';
import { valueRelationKl } from './value-relation.ts';

const B = 2,
  T = 3;
const EPS = 1e-8;

/** Causal attention probabilities (B, H, T, T) from random scores, as nested arrays and flat. */
function causalProbs(h: number, seed: number): { flat: number[]; rows: number[][][][] } {
  const scores = randomValues(B * h * T * T, seed, 2);
  const out = Array.from({ length: B }, (_, b) =>
    Array.from({ length: h }, (_, hh) =>
      Array.from({ length: T }, (_, i) => {
        const row = scores.slice(((b * h + hh) * T + i) * T, ((b * h + hh) * T + i + 1) * T);
        const p = softmaxJs(row.slice(0, i + 1));
        return [...p, ...Array(T - i - 1).fill(0)];
      }),
    ),
  );
  return { flat: out.flat(3), rows: out };
}

const rowKl = (a: number[], s: number[]) =>
  a.reduce((acc, ai, j) => acc + ai * (Math.log(ai + EPS) - Math.log(s[j]! + EPS)), 0);
const headMean = (x: number[][][]) => x[0]!.map((_, i) => x[0]![i]!.map((_, j) => mean(x.map((h) => h[i]![j]!))));

async function attnValue(
  tv: number[],
  ht: number,
  sv: number[],
  hs: number,
  heads: 'auto' | 'average',
  mask?: number[],
): Promise<number> {
  const t = input('t', [B, ht, T, T], 'float64'),
    s = input('s', [B, hs, T, T], 'float64');
  const m = mask ? input('mask', [B, T], 'int64') : undefined;
  const out = attentionMapKl(t, s, { heads, eps: EPS, mask: m });
  return (
    await runRef(
      { l: out },
      { t: f64([B, ht, T, T], tv), s: f64([B, hs, T, T], sv), ...(mask ? { mask: i64([B, T], mask) } : {}) },
    )
  ).l![0]!;
}

test('attention-map KL, heads paired one to one: hand-computed value (causal zeros included)', async () => {
  const t = causalProbs(2, 1),
    s = causalProbs(2, 2);
  const want = mean(
    t.rows.flatMap((tb, b) => tb.flatMap((th, h) => th.map((row, i) => rowKl(row, s.rows[b]![h]![i]!)))),
  );
  assertClose(await attnValue(t.flat, 2, s.flat, 2, 'auto'), want, 1e-12, 'matched');
  // Masked query rows drop out of the mean.
  const mask = [1, 0, 1, 1, 1, 0];
  const kept = t.rows.flatMap((tb, b) =>
    tb.flatMap((th, h) => th.flatMap((row, i) => (mask[b * T + i] ? [rowKl(row, s.rows[b]![h]![i]!)] : []))),
  );
  assertClose(await attnValue(t.flat, 2, s.flat, 2, 'auto', mask), mean(kept), 1e-12, 'masked');
});

test('attention-map KL, head counts differ (or average asked): heads averaged first', async () => {
  const t = causalProbs(4, 3),
    s = causalProbs(2, 4);
  const avg = (x: number[][][][]) => x.map(headMean);
  const want = mean(avg(t.rows).flatMap((tb, b) => tb.map((row, i) => rowKl(row, avg(s.rows)[b]![i]!))));
  assertClose(await attnValue(t.flat, 4, s.flat, 2, 'auto'), want, 1e-12, '4 vs 2 heads');
  const t2 = causalProbs(2, 5);
  const want2 = mean(avg(t2.rows).flatMap((tb, b) => tb.map((row, i) => rowKl(row, avg(s.rows)[b]![i]!))));
  assertClose(await attnValue(t2.flat, 2, s.flat, 2, 'average'), want2, 1e-12, 'average');
});

test('attention-map KL is 0 for identical maps and positive otherwise', async () => {
  const t = causalProbs(2, 6),
    s = causalProbs(2, 7);
  assert.ok(Math.abs(await attnValue(t.flat, 2, t.flat, 2, 'auto')) < 1e-15);
  assert.ok((await attnValue(t.flat, 2, s.flat, 2, 'auto')) > 1e-3);
});

test('attention-map KL: gradients through the student softmax match finite differences', async () => {
  await checkGrads(
    (ts, ss) => attentionMapKl(softmax(causalMask(ts)), softmax(causalMask(ss)), { heads: 'auto', eps: EPS }),
    [
      [B, 2, T, T],
      [B, 2, T, T],
    ],
  );
  await checkGrads(
    (ts, ss) => attentionMapKl(softmax(ts), softmax(ss), { heads: 'auto', eps: EPS }),
    [
      [B, 4, T, T],
      [B, 2, T, T],
    ],
  );
});

// ---------------------------------------------------------------- value relation
/** MiniLM's relation from values (B, H, T, hs): heads concatenated and re-split into r; each row a softmax over keys. */
function relationJs(
  v: number[],
  h: number,
  hs: number,
  r: number,
  o: { causal?: boolean; mask?: number[] },
): number[][][][] {
  const d = (h * hs) / r;
  const x = (b: number, t: number) =>
    Array.from({ length: h * hs }, (_, c) => v[((b * h + Math.floor(c / hs)) * T + t) * hs + (c % hs)]!);
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: r }, (_, rr) =>
      Array.from({ length: T }, (_, i) => {
        const xi = x(b, i).slice(rr * d, (rr + 1) * d);
        const keys = [...Array(T).keys()].filter((j) => (!o.causal || j <= i) && (!o.mask || o.mask[b * T + j]));
        const scores = keys.map((j) => xi.reduce((acc, xv, c) => acc + xv * x(b, j)[rr * d + c]!, 0) / Math.sqrt(d));
        const p = softmaxJs(scores);
        const row = Array(T).fill(0);
        keys.forEach((j, k) => (row[j] = p[k]));
        return row;
      }),
    ),
  );
}

async function vrValue(
  tv: number[],
  tShape: number[],
  sv: number[],
  sShape: number[],
  o: { relationHeads?: number; causal?: boolean; mask?: number[] },
): Promise<number> {
  const t = input('t', tShape, 'float64'),
    s = input('s', sShape, 'float64');
  const m = o.mask ? input('mask', [B, T], 'int64') : undefined;
  const out = valueRelationKl(t, s, { relationHeads: o.relationHeads, causal: o.causal, mask: m });
  return (
    await runRef(
      { l: out },
      { t: f64(tShape, tv), s: f64(sShape, sv), ...(o.mask ? { mask: i64([B, T], o.mask) } : {}) },
    )
  ).l![0]!;
}

function vrExpected(
  tv: number[],
  [ht, dt]: number[],
  sv: number[],
  [hs, ds]: number[],
  r: number,
  o: { causal?: boolean; mask?: number[] },
): number {
  const rt = relationJs(tv, ht!, dt!, r, o),
    rs = relationJs(sv, hs!, ds!, r, o);
  return mean(
    rt.flatMap((tb, b) =>
      tb.flatMap((th, h) => th.flatMap((row, i) => (o.mask && !o.mask[b * T + i] ? [] : [klJs(row, rs[b]![h]![i]!)]))),
    ),
  );
}

test('value relation, same heads: KL(softmax(V_t·V_tᵀ/√d) ‖ softmax(V_s·V_sᵀ/√d)) per head', async () => {
  const tv = randomValues(B * 2 * T * 3, 70, 1.5),
    sv = randomValues(B * 2 * T * 3, 71, 1.5);
  assertClose(
    await vrValue(tv, [B, 2, T, 3], sv, [B, 2, T, 3], {}),
    vrExpected(tv, [2, 3], sv, [2, 3], 2, {}),
    1e-12,
    'same heads',
  );
  assert.ok(Math.abs(await vrValue(tv, [B, 2, T, 3], tv, [B, 2, T, 3], {})) < 1e-15, 'identical values give 0');
});

test('value relation, different heads and widths: re-split into common relation heads (MiniLM-v2), causal and masked', async () => {
  // Teacher 4 heads × 2 = 8 wide, student 2 heads × 3 = 6 wide; default relation heads = the student's 2.
  const tv = randomValues(B * 4 * T * 2, 72, 1.5),
    sv = randomValues(B * 2 * T * 3, 73, 1.5);
  assertClose(
    await vrValue(tv, [B, 4, T, 2], sv, [B, 2, T, 3], {}),
    vrExpected(tv, [4, 2], sv, [2, 3], 2, {}),
    1e-12,
    're-split',
  );
  const o = { causal: true, mask: [1, 1, 1, 1, 0, 1] };
  assertClose(
    await vrValue(tv, [B, 4, T, 2], sv, [B, 2, T, 3], o),
    vrExpected(tv, [4, 2], sv, [2, 3], 2, o),
    1e-12,
    'causal + mask',
  );
  await assert.rejects(
    vrValue(tv, [B, 4, T, 2], sv, [B, 2, T, 3], { relationHeads: 4 }),
    /4 relation heads must divide both widths/,
  );
});

test('value relation: gradients w.r.t. student (and teacher) values match finite differences', async () => {
  await checkGrads(
    (t, s) => valueRelationKl(t, s, {}),
    [
      [B, 4, T, 2],
      [B, 2, T, 3],
    ],
  );
  await checkGrads(
    (t, s, m) => valueRelationKl(t, s, { causal: true, mask: m }),
    [[B, 2, T, 3], [B, 2, T, 3], { shape: [B, T], dtype: 'int64', values: [1, 0, 1, 1, 1, 1] }],
  );
});
