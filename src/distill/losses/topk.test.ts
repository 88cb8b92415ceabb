// Sparse top-k KD: the flat gather, the k + 1 buckets against plain-JS values, k = V against the
// dense logit KD, ignored positions, and gradients against finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGrads } from '../../runtime/gradcheck.ts';
import { input } from '../../graph/index.ts';
import { divergenceKinds } from './divergence.ts';
import { takeAlongLastAxis } from './gather.ts';
import { logitKdLoss, logitKdSchema } from './logit-kd.ts';
import { topkKdLoss, topkKdSchema } from './topk.ts';
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

const B = 1,
  T = 3,
  V = 6,
  K = 2;
const STUDENT = randomValues(B * T * V, 11, 2);
const TEACHER_LOGITS = randomValues(B * T * V, 12, 3);
const LABELS = [3, -100, 0];

/** The teacher's top-k ids and their log-probs at T = 1, as an API would send them. */
function topkOf(logits: number[], k: number): { ids: number[]; logprobs: number[] } {
  const ids: number[] = [],
    logprobs: number[] = [];
  for (const r of rows(logits, V)) {
    const lp = logSoftmaxJs(r);
    const order = lp
      .map((_, i) => i)
      .sort((a, b) => lp[b]! - lp[a]!)
      .slice(0, k);
    ids.push(...order);
    logprobs.push(...order.map((i) => lp[i]!));
  }
  return { ids, logprobs };
}

/** The documented buckets: teacher tempered within the top-k with its tail mass kept; student exact. */
function bucketsJs(
  studentRow: number[],
  ids: number[],
  lps: number[],
  tt: number,
  eps: number,
): { p: number[]; q: number[] } {
  const pk = lps.map(Math.exp);
  const restP = Math.max(1 - pk.reduce((a, b) => a + b, 0), eps);
  const within = softmaxJs(lps, tt);
  const p = [...within.map((w) => w * (1 - restP)), restP];
  const qs = softmaxJs(studentRow, tt);
  const qk = ids.map((i) => qs[i]!);
  const q = [...qk, Math.max(1 - qk.reduce((a, b) => a + b, 0), eps)];
  return { p, q };
}

async function topkValue(
  student: number[],
  ids: number[],
  logprobs: number[],
  k: number,
  labels: number[] | undefined,
  cfg: object,
): Promise<number> {
  const o = topkKdSchema.parse({ kind: 'topk', ...cfg });
  const xs = input('s', [B, T, V], 'float64'),
    xi = input('ids', [B, T, k], 'int64'),
    xp = input('lp', [B, T, k], 'float64');
  const xl = labels ? input('labels', [B, T], 'int64') : undefined;
  const out = topkKdLoss({ student: xs, teacher: { ids: xi, logprobs: xp }, labels: xl }, o);
  const feeds = {
    s: f64([B, T, V], student),
    ids: i64([B, T, k], ids),
    lp: f64([B, T, k], logprobs),
    ...(labels ? { labels: i64([B, T], labels) } : {}),
  };
  return (await runRef({ loss: out.loss }, feeds)).loss![0]!;
}

test('takeAlongLastAxis picks x[…, ids[…, j]] (flat gather)', async () => {
  const x = input('x', [2, 2, 4], 'float64'),
    ids = input('ids', [2, 2, 3], 'int64');
  const xv = Array.from({ length: 16 }, (_, i) => i * 1.5),
    iv = [3, 0, 0, 1, 2, 3, 0, 0, 2, 3, 1, 1];
  const got = (await runRef({ y: takeAlongLastAxis(x, ids) }, { x: f64([2, 2, 4], xv), ids: i64([2, 2, 3], iv) })).y!;
  assert.deepEqual(
    got,
    iv.map((id, j) => xv[Math.floor(j / 3) * 4 + id]!),
  );
  assert.throws(
    () => takeAlongLastAxis(x, input('bad', [2, 3, 3], 'int64')),
    /must match x \[2, 2, 4\] in every axis but the last/,
  );
});

for (const divergence of divergenceKinds) {
  test(`top-k ${divergence}: k + 1 buckets at T = 2 equal the hand-computed value`, async () => {
    const { ids, logprobs } = topkOf(TEACHER_LOGITS, K);
    const cfg = { divergence, temperature: 2, alpha: 0.6, restEps: 1e-6 };
    const got = await topkValue(STUDENT, ids, logprobs, K, LABELS, cfg);
    const kept = [0, 2];
    const sr = rows(STUDENT, V);
    const kd = mean(
      kept.map((n) => {
        const { p, q } = bucketsJs(sr[n]!, ids.slice(n * K, n * K + K), logprobs.slice(n * K, n * K + K), 2, 1e-6);
        return divergenceJs(divergence, p, q);
      }),
    );
    const ce = mean(kept.map((n) => -logSoftmaxJs(sr[n]!)[LABELS[n]!]!));
    assertClose(got, 0.6 * 4 * kd + 0.4 * ce, 1e-12, divergence);
  });
}

test('top-k at T = 1 uses the given log-probs as they are, with the rest bucket 1 − Σp', async () => {
  const { ids, logprobs } = topkOf(TEACHER_LOGITS, 3);
  const got = await topkValue(STUDENT, ids, logprobs, 3, undefined, { temperature: 1, alpha: 1 });
  const want = mean(
    rows(STUDENT, V).map((r, n) => {
      const p = logprobs.slice(n * 3, n * 3 + 3).map(Math.exp),
        q = softmaxJs(r);
      const qk = ids.slice(n * 3, n * 3 + 3).map((i) => q[i]!);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      return divergenceJs('forwardKl', [...p, 1 - sum(p)], [...qk, 1 - sum(qk)]);
    }),
  );
  assertClose(got, want, 1e-12, 'T = 1');
});

test('top-k with k = V equals the dense logit KD, for every divergence, at T = 2', async () => {
  // ids in a shuffled order, to show the order of the k ids does not matter.
  const ids: number[] = [],
    logprobs: number[] = [];
  rows(TEACHER_LOGITS, V).forEach((r, n) => {
    const lp = logSoftmaxJs(r);
    const order = [...Array(V).keys()].sort((a, b) => Math.sin(a * 7 + n) - Math.sin(b * 7 + n));
    ids.push(...order);
    logprobs.push(...order.map((i) => lp[i]!));
  });
  for (const divergence of divergenceKinds) {
    const cfg = { divergence, temperature: 2, alpha: 0.5 };
    const sparse = await topkValue(STUDENT, ids, logprobs, V, LABELS, { ...cfg, restEps: 1e-14 });
    const o = logitKdSchema.parse({ kind: 'logits', ...cfg });
    const xs = input('s', [B, T, V], 'float64'),
      xt = input('t', [B, T, V], 'float64'),
      xl = input('labels', [B, T], 'int64');
    const dense = (
      await runRef(
        { l: logitKdLoss({ student: xs, teacher: xt, labels: xl }, o).loss },
        {
          s: f64([B, T, V], STUDENT),
          t: f64([B, T, V], TEACHER_LOGITS),
          labels: i64([B, T], LABELS),
        },
      )
    ).l![0]!;
    assertClose(sparse, dense, 1e-10, divergence);
  }
});

test('top-k: ignored positions contribute nothing (their ids and log-probs may be anything in range)', async () => {
  const { ids, logprobs } = topkOf(TEACHER_LOGITS, K);
  const cfg = { divergence: 'skewKl', temperature: 2, alpha: 0.5 };
  const a = await topkValue(STUDENT, ids, logprobs, K, LABELS, cfg);
  const ids2 = ids.map((id, j) => (Math.floor(j / K) === 1 ? 0 : id));
  const lp2 = logprobs.map((v, j) => (Math.floor(j / K) === 1 ? -0.01 : v));
  const s2 = STUDENT.map((v, j) => (Math.floor(j / V) === 1 ? 40 : v));
  assertClose(await topkValue(s2, ids2, lp2, K, LABELS, cfg), a, 1e-14, 'ignored position changed');
});

for (const divergence of ['forwardKl', 'reverseKl', 'jsd', 'skewReverseKl'] as const) {
  test(`top-k ${divergence}: gradients match finite differences (float64, reference)`, async () => {
    const { ids, logprobs } = topkOf(TEACHER_LOGITS, K);
    const o = topkKdSchema.parse({ kind: 'topk', divergence, temperature: 2, alpha: 0.7 });
    await checkGrads(
      (s, lp, idv, labels) => topkKdLoss({ student: s, teacher: { ids: idv, logprobs: lp }, labels }, o).loss,
      [
        [B, T, V],
        { shape: [B, T, K], values: logprobs },
        { shape: [B, T, K], dtype: 'int64', values: ids },
        { shape: [B, T], dtype: 'int64', values: LABELS },
      ],
    );
  });
}
