// Sparse top-k KD: the flat gather, the k + 1 buckets against plain-JS values, k = V against the
// dense logit KD, ignored positions, gradients against finite differences; the stored tail's rest
// bucket; sampled targets (value, gradient, unbiased mean gradient, refused settings).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../../autodiff/index.ts';
import { checkGrads } from '../../runtime/gradcheck.ts';
import { input, takeAlongLastAxis } from '../../graph/index.ts';
import { sampledTargets } from '../store/sample.ts';
import { divergenceKinds } from './divergence.ts';
import { logitKdLoss, logitKdSchema } from './logit-kd.ts';
import { topkKdLoss, topkKdSchema } from './topk.ts';
import {
  assertClose,
  divergenceJs,
  klJs,
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

/** Loss and d loss / d student of the top-k term over P positions (B = 1), with a tail input. */
async function sparseRun(
  x: { student: number[]; ids: number[]; logprobs: number[]; tail: number[]; k: number; v: number },
  cfg: object,
  targets: 'topk' | 'sampled',
): Promise<{ loss: number; grad: number[] }> {
  const p = x.tail.length;
  const o = topkKdSchema.parse({ kind: 'topk', ...cfg });
  const xs = input('s', [1, p, x.v], 'float64');
  const teacher = {
    ids: input('ids', [1, p, x.k], 'int64'),
    logprobs: input('lp', [1, p, x.k], 'float64'),
    tail: input('tail', [1, p, 1], 'float64'),
    targets,
  };
  const out = topkKdLoss({ student: xs, teacher }, o);
  const [g] = grad(out.loss, [xs]);
  const r = await runRef(
    { loss: out.loss, g: g! },
    {
      s: f64([1, p, x.v], x.student),
      ids: i64([1, p, x.k], x.ids),
      lp: f64([1, p, x.k], x.logprobs),
      tail: f64([1, p, 1], x.tail),
    },
  );
  return { loss: r.loss![0]!, grad: r.g! };
}

test('top-k with the stored tail: the rest bucket is exp(tail), the k entries renormalized to 1 − rest', async () => {
  const { ids, logprobs } = topkOf(TEACHER_LOGITS, K);
  // Rounded log-probs (as fp16 would leave them) beside the exact tail of the unrounded ones.
  const rounded = logprobs.map((v) => v * (1 + 4e-4));
  const tail = rows(logprobs, K).map((r) => Math.log1p(-r.reduce((a, v) => a + Math.exp(v), 0)));
  for (const temperature of [1, 2]) {
    const got = await sparseRun(
      { student: STUDENT, ids, logprobs: rounded, tail, k: K, v: V },
      { temperature, alpha: 1 },
      'topk',
    );
    const want = mean(
      rows(STUDENT, V).map((r, n) => {
        const rest = Math.exp(tail[n]!);
        const within = softmaxJs(rounded.slice(n * K, n * K + K), temperature);
        const qs = softmaxJs(r, temperature);
        const qk = ids.slice(n * K, n * K + K).map((i) => qs[i]!);
        return divergenceJs(
          'forwardKl',
          [...within.map((w) => w * (1 - rest)), rest],
          [...qk, 1 - qk.reduce((a, b) => a + b, 0)],
        );
      }),
    );
    assertClose(got.loss, want * temperature ** 2, 1e-12, `T = ${temperature}`);
  }
  // tail: false recomputes the rest from the log-probs, as without a tail.
  const off = await sparseRun({ student: STUDENT, ids, logprobs, tail, k: K, v: V }, { tail: false, alpha: 1 }, 'topk');
  assertClose(off.loss, await topkValue(STUDENT, ids, logprobs, K, undefined, { alpha: 1 }), 1e-12, 'tail: false');
});

test('top-k with the stored tail: gradients match finite differences', async () => {
  const { ids, logprobs } = topkOf(TEACHER_LOGITS, K);
  const tail = rows(logprobs, K).map((r) => Math.log1p(-r.reduce((a, v) => a + Math.exp(v), 0)));
  const o = topkKdSchema.parse({ kind: 'topk', temperature: 2, alpha: 0.7 });
  await checkGrads(
    (s, lp, tl, idv, labels) =>
      topkKdLoss({ student: s, teacher: { ids: idv, logprobs: lp, tail: tl }, labels }, o).loss,
    [
      [B, T, V],
      { shape: [B, T, K], values: logprobs },
      { shape: [B, T, 1], values: tail },
      { shape: [B, T, K], dtype: 'int64', values: ids },
      { shape: [B, T], dtype: 'int64', values: LABELS },
    ],
  );
});

/** Sampled targets of `logits` (one row repeated P times, each position its own draws). */
function sampledOf(logits: number[], p: number, slots: number, seed: number) {
  const all = Array.from({ length: p }, () => logits).flat();
  const r = sampledTargets(all, logits.length, { seq: p, vocabSize: logits.length, slots, seed, example: 0 });
  return { ids: [...r.ids], logprobs: [...r.logprobs], tail: [...r.tail] };
}

const V16 = 16;
const TEACHER16 = randomValues(V16, 21, 2);
const STUDENT16 = randomValues(V16, 22, 2);

test('sampled targets: the value is KL(w ‖ q) over the drawn tokens, the gradient softmax(z) − w', async () => {
  const t = sampledOf(TEACHER16, 2, 12, 5);
  const student = [...STUDENT16, ...STUDENT16.map((v) => -v)];
  const got = await sparseRun({ student, ...t, k: 12, v: V16 }, { alpha: 1 }, 'sampled');
  const eps = 1e-6;
  let want = 0;
  const wantGrad: number[] = [];
  rows(student, V16).forEach((r, n) => {
    // Normalized as the loss does (log(count/12) was rounded to float32, so Σ exp is 1 only to ~1e-7).
    const w = softmaxJs(t.logprobs.slice(n * 12, n * 12 + 12));
    const idsN = t.ids.slice(n * 12, n * 12 + 12);
    const q = softmaxJs(r);
    const qk = idsN.map((i) => q[i]!);
    want +=
      divergenceJs('forwardKl', [...w.map((x) => x * (1 - eps)), eps], [...qk, 1 - qk.reduce((a, b) => a + b, 0)]) / 2;
    // d/dz of −Σ w_i log q_i is q − w (the weights sum to 1), over the 2 positions of the mean.
    const scattered = new Array<number>(V16).fill(0);
    idsN.forEach((id, j) => (scattered[id]! += w[j]!));
    wantGrad.push(...q.map((qi, i) => (qi - scattered[i]!) / 2));
  });
  assertClose(got.loss, want, 1e-12, 'value');
  // The ε rest bucket moves the gradient by at most 2ε in L1.
  got.grad.forEach((g, i) => assert.ok(Math.abs(g - wantGrad[i]!) < 4e-6, `grad ${i}: ${g} vs ${wantGrad[i]}`));
});

test('sampled targets: the mean gradient over many draws approaches the dense forward-KL gradient q − p', async () => {
  const P = 400;
  const t = sampledOf(TEACHER16, P, 12, 9);
  const student = Array.from({ length: P }, () => STUDENT16).flat();
  const got = await sparseRun({ student, ...t, k: 12, v: V16 }, { alpha: 1 }, 'sampled');
  const q = softmaxJs(STUDENT16),
    p = softmaxJs(TEACHER16);
  for (let i = 0; i < V16; i++) {
    let sum = 0; // the loss is a mean over P positions: Σ_t grad_t = q − mean_t(w_t)
    for (let n = 0; n < P; n++) sum += got.grad[n * V16 + i]!;
    // mean_t(w_t,i) has standard error sqrt(p(1 − p) / (12·P)) ≤ 0.0073; allow 4 of them.
    assert.ok(Math.abs(sum - (q[i]! - p[i]!)) < 0.03, `token ${i}: ${sum} vs ${q[i]! - p[i]!}`);
  }
});

test('sampled targets refuse a temperature other than 1 and divergences other than forward KL', () => {
  const ids = input('ids', [1, 2, 4], 'int64'),
    lp = input('lp', [1, 2, 4]),
    student = input('s', [1, 2, 8]);
  for (const cfg of [{ temperature: 2 }, { divergence: 'reverseKl' }, { divergence: 'jsd' }]) {
    const o = topkKdSchema.parse({ kind: 'topk', alpha: 1, ...cfg });
    assert.throws(
      () => topkKdLoss({ student, teacher: { ids, logprobs: lp, targets: 'sampled' } }, o),
      /targets are sampled .* unbiased gradient of forward KL only; got temperature \d and divergence \w+\. Set temperature: 1 and divergence: forwardKl/,
    );
  }
});

test("teacher ids past the student's vocabulary (padded embedding rows) hold no mass: their share goes to the rest bucket", async () => {
  const V5 = 5;
  const s = input('s', [1, 1, V5], 'float64');
  const ids = input('ids', [1, 1, 3], 'int64');
  const lp = input('lp', [1, 1, 3], 'float64');
  const out = topkKdLoss(
    { student: s, teacher: { ids, logprobs: lp } },
    topkKdSchema.parse({ kind: 'topk', alpha: 1, tail: false }),
  );
  const z = [0.3, -1.2, 2.0, 0.5, -0.4];
  const p = [0.5, 0.2, 0.1]; // id 7 (the middle entry) is past V = 5
  const got = (
    await runRef(
      { loss: out.loss },
      { s: f64([1, 1, V5], z), ids: i64([1, 1, 3], [2, 7, 0]), lp: f64([1, 1, 3], p.map(Math.log)) },
    )
  ).loss![0]!;
  const q = softmaxJs(z);
  // Buckets: id 2, (id 7: nothing), id 0, rest. The teacher's rest gets 1 − 0.5 − 0.1.
  const teacher = [0.5, 0.1, 1 - 0.5 - 0.1];
  const student = [q[2]!, q[0]!, 1 - q[2]! - q[0]!];
  assertClose(got, klJs(teacher, student), 1e-9, 'forward KL over the in-vocabulary buckets');
});
