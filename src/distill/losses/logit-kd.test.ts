// Logit KD against values computed in plain JS from the papers' definitions, its gradients against
// finite differences, and the properties every divergence must have.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGrads } from '../../runtime/gradcheck.ts';
import { input } from '../../graph/index.ts';
import { divergenceKinds, type DivergenceKind } from './divergence.ts';
import { logitKdLoss, logitKdSchema } from './logit-kd.ts';
import {
  assertClose,
  divergenceJs,
  f64,
  i64,
  logSoftmaxJs,
  mean,
  randomValues,
  rows,
  runRef,
  softmaxJs,
} from './testing.ts';

const B = 2,
  T = 3,
  V = 5;
const LABELS = [1, -100, 4, 0, 2, -100];
const STUDENT = randomValues(B * T * V, 1, 2);
const TEACHER = randomValues(B * T * V, 2, 3);

/** Every divergence, and JSD's and skew's special points. */
const VARIANTS: Array<{ divergence: DivergenceKind; beta?: number; skew?: number }> = [
  ...divergenceKinds.map((divergence) => ({ divergence })),
  { divergence: 'jsd', beta: 0 },
  { divergence: 'jsd', beta: 1 },
  { divergence: 'jsd', beta: 0.9 },
  { divergence: 'skewKl', skew: 0 },
  { divergence: 'skewReverseKl', skew: 0.3 },
];
const label = (v: (typeof VARIANTS)[number]) =>
  `${v.divergence}${v.beta !== undefined ? ` β=${v.beta}` : ''}${v.skew !== undefined ? ` skew=${v.skew}` : ''}`;

/** α·T²·mean D + (1−α)·mean CE over kept positions, straight from the definitions. */
function expectedJs(
  s: number[],
  t: number[],
  labels: number[] | undefined,
  width: number,
  o: { divergence: string; beta?: number; skew?: number; temperature: number; alpha: number },
): number {
  const beta = o.beta ?? 0.5,
    skew = o.skew ?? 0.1,
    tt = o.temperature;
  const sr = rows(s, width),
    tr = rows(t, width);
  const kept = sr.map((_, i) => i).filter((i) => !labels || labels[i] !== -100);
  const kd = mean(
    kept.map((i) => divergenceJs(o.divergence, softmaxJs(tr[i]!, tt), softmaxJs(sr[i]!, tt), beta, skew)),
  );
  if (!labels || o.alpha === 1) return o.alpha * tt * tt * kd;
  const ce = mean(kept.map((i) => -logSoftmaxJs(sr[i]!)[labels[i]!]!));
  return o.alpha * tt * tt * kd + (1 - o.alpha) * ce;
}

async function lossValue(
  s: number[],
  t: number[],
  labels: number[] | undefined,
  shape: number[],
  cfg: object,
  tWidth = shape[shape.length - 1]!,
): Promise<number> {
  const lead = shape.slice(0, -1);
  const o = logitKdSchema.parse({ kind: 'logits', ...cfg });
  const xs = input('s', shape, 'float64'),
    xt = input('t', [...lead, tWidth], 'float64');
  const xl = labels ? input('labels', lead, 'int64') : undefined;
  const out = logitKdLoss({ student: xs, teacher: xt, labels: xl }, o);
  const feeds = { s: f64(shape, s), t: f64([...lead, tWidth], t), ...(labels ? { labels: i64(lead, labels) } : {}) };
  return (await runRef({ loss: out.loss }, feeds)).loss![0]!;
}

for (const v of VARIANTS) {
  test(`logit KD ${label(v)}: causal LM (B, T, V) with ignored positions equals the hand-computed value`, async () => {
    const cfg = { ...v, temperature: 2, alpha: 0.7 };
    const got = await lossValue(STUDENT, TEACHER, LABELS, [B, T, V], cfg);
    assertClose(got, expectedJs(STUDENT, TEACHER, LABELS, V, cfg), 1e-12, label(v));
  });
}

test('logit KD, classifier (B, C) with labels (B), T = 1 and α = 0.5', async () => {
  const s = randomValues(4 * 3, 3, 2),
    t = randomValues(4 * 3, 4, 2),
    labels = [2, 0, -100, 1];
  for (const divergence of divergenceKinds) {
    const cfg = { divergence, temperature: 1, alpha: 0.5 };
    assertClose(await lossValue(s, t, labels, [4, 3], cfg), expectedJs(s, t, labels, 3, cfg), 1e-12, divergence);
  }
});

test('logit KD without labels (α = 1) averages over every position', async () => {
  const cfg = { divergence: 'reverseKl', temperature: 1.5, alpha: 1 };
  assertClose(
    await lossValue(STUDENT, TEACHER, undefined, [B, T, V], cfg),
    expectedJs(STUDENT, TEACHER, undefined, V, cfg),
    1e-12,
    'no labels',
  );
  await assert.rejects(
    lossValue(STUDENT, TEACHER, undefined, [B, T, V], { alpha: 0.5 }),
    /batch\.labels is missing; pass labels or set alpha: 1/,
  );
});

test('every divergence is 0 when student equals teacher and positive otherwise', async () => {
  for (const v of VARIANTS) {
    const cfg = { ...v, temperature: 2, alpha: 1 };
    const same = await lossValue(STUDENT, STUDENT, LABELS, [B, T, V], cfg);
    assert.ok(Math.abs(same) < 1e-14, `${label(v)}: ${same} for identical logits`);
    const differ = await lossValue(STUDENT, TEACHER, LABELS, [B, T, V], cfg);
    assert.ok(differ > 1e-3, `${label(v)}: ${differ} for different logits`);
  }
});

test('ignored positions contribute nothing: changing their logits leaves the loss unchanged', async () => {
  const garbage = (xs: number[]) => xs.map((x, i) => (LABELS[Math.floor(i / V)] === -100 ? 50 * Math.sin(i) : x));
  for (const divergence of divergenceKinds) {
    const cfg = { divergence, temperature: 2, alpha: 0.4 };
    const a = await lossValue(STUDENT, TEACHER, LABELS, [B, T, V], cfg);
    const b = await lossValue(garbage(STUDENT), garbage(TEACHER), LABELS, [B, T, V], cfg);
    assertClose(b, a, 1e-14, divergence);
  }
});

test('the batch mask drops positions exactly as ignore-index labels do', async () => {
  const o = logitKdSchema.parse({ kind: 'logits', divergence: 'jsd', temperature: 2, alpha: 0.6 });
  const xs = input('s', [B, T, V], 'float64'),
    xt = input('t', [B, T, V], 'float64');
  const xl = input('labels', [B, T], 'int64'),
    xm = input('mask', [B, T], 'int64');
  const out = logitKdLoss({ student: xs, teacher: xt, labels: xl, mask: xm }, o);
  const all = LABELS.map((l) => (l === -100 ? 3 : l)); // real labels everywhere; the mask drops the same two
  const mask = LABELS.map((l) => (l === -100 ? 0 : 1));
  const got = (
    await runRef(
      { loss: out.loss },
      { s: f64([B, T, V], STUDENT), t: f64([B, T, V], TEACHER), labels: i64([B, T], all), mask: i64([B, T], mask) },
    )
  ).loss![0]!;
  assertClose(
    got,
    expectedJs(STUDENT, TEACHER, LABELS, V, { divergence: 'jsd', temperature: 2, alpha: 0.6 }),
    1e-12,
    'masked',
  );
});

test('padded vocabularies: logits cut to the shared real vocabulary', async () => {
  // Student padded to 7, teacher to 6; the real vocabulary is the first 5.
  const s7 = randomValues(B * T * 7, 5, 2),
    t6 = randomValues(B * T * 6, 6, 2);
  const cut = (xs: number[], w: number, k: number) => rows(xs, w).flatMap((r) => r.slice(0, k));
  const cfg = { divergence: 'forwardKl', temperature: 2, alpha: 0.5 };
  const want5 = expectedJs(cut(s7, 7, 5), cut(t6, 6, 5), LABELS, 5, cfg);
  assertClose(await lossValue(s7, t6, LABELS, [B, T, 7], { ...cfg, realVocab: 5 }, 6), want5, 1e-12, 'realVocab 5');
  // Unconfigured, differing widths are cut to the smaller one.
  const want6 = expectedJs(cut(s7, 7, 6), t6, LABELS, 6, cfg);
  assertClose(await lossValue(s7, t6, LABELS, [B, T, 7], cfg, 6), want6, 1e-12, 'auto cut to 6');
  await assert.rejects(lossValue(s7, t6, LABELS, [B, T, 7], { ...cfg, realVocab: 9 }, 6), /realVocab 9 exceeds/);
});

for (const v of VARIANTS) {
  test(`logit KD ${label(v)}: gradients match finite differences (float64, reference)`, async () => {
    const o = logitKdSchema.parse({ kind: 'logits', ...v, temperature: 2, alpha: 0.7 });
    await checkGrads(
      (s, t, labels) => logitKdLoss({ student: s, teacher: t, labels }, o).loss,
      [[B, T, V], [B, T, V], { shape: [B, T], dtype: 'int64', values: LABELS }],
      { maxPerInput: 16 },
    );
  });
}

test('forward KL (closed-form gradient) without labels, and with a batch mask: gradients match finite differences', async () => {
  const all = logitKdSchema.parse({ kind: 'logits', temperature: 2, alpha: 1 });
  await checkGrads(
    (s, t) => logitKdLoss({ student: s, teacher: t }, all).loss,
    [
      [B, T, V],
      [B, T, V],
    ],
  );
  const masked = logitKdSchema.parse({ kind: 'logits', temperature: 0.5, alpha: 0.3 });
  await checkGrads(
    (s, t, labels, mask) => logitKdLoss({ student: s, teacher: t, labels, mask }, masked).loss,
    [
      [B, T, V],
      [B, T, V],
      { shape: [B, T], dtype: 'int64', values: LABELS },
      { shape: [B, T], dtype: 'int64', values: [1, 1, 0, 1, 1, 0] },
    ],
  );
});
