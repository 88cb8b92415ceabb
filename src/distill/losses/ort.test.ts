// Every loss in float32 on onnxruntime against the reference interpreter, forward and gradient:
// the ONNX lowering of each loss, and of the gradient graph autodiff builds for it, must agree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../../autodiff/index.ts';
import { causalMask, input, isFloat, softmax, topoSort, type DType, type Tensor } from '../../graph/index.ts';
import { hostTensor, toNumbers, type HostTensor } from '../../runtime/host.ts';
import { OrtExecutor } from '../../runtime/ort.ts';
import { ReferenceExecutor } from '../../runtime/reference.ts';
import { attentionMapKl } from './attention.ts';
import { combineLosses, lossWeightInputs } from './balance.ts';
import { divergenceKinds } from './divergence.ts';
import { HiddenStateLoss, hiddenLossSchema } from './hidden.ts';
import { logitKdLoss, logitKdSchema } from './logit-kd.ts';
import { randomValues, softmaxJs } from './testing.ts';
import { topkKdLoss, topkKdSchema } from './topk.ts';
import { valueRelationKl } from './value-relation.ts';

const TOL = 1e-4;
const ort = new OrtExecutor();
const reference = new ReferenceExecutor();

interface Case {
  name: string;
  loss: () => Tensor;
  /** Values of int leaves by name; float leaves get seeded values unless given. */
  values?: Record<string, number[]>;
}

const B = 2,
  T = 3,
  V = 7;
const LABELS = [1, -100, 6, 0, 2, 5];
const MASK = [1, 1, 1, 1, 0, 1];
const f32 = (name: string, shape: number[]) => input(name, shape, 'float32');
const i64 = (name: string, shape: number[]) => input(name, shape, 'int64');

/** Teacher top-3 ids per position and valid log-probs for them (they sum below 1). */
function topkValues(): { ids: number[]; logprobs: number[] } {
  const ids: number[] = [],
    logprobs: number[] = [];
  for (let n = 0; n < B * T; n++) {
    const p = softmaxJs(randomValues(V, 500 + n, 3));
    const order = p
      .map((_, i) => i)
      .sort((a, b) => p[b]! - p[a]!)
      .slice(0, 3);
    ids.push(...order);
    logprobs.push(...order.map((i) => Math.log(p[i]!)));
  }
  return { ids, logprobs };
}

const cases: Case[] = [
  ...divergenceKinds.map(
    (divergence): Case => ({
      name: `logit KD ${divergence}, T = 2, α = 0.5, ignored labels`,
      loss: () =>
        logitKdLoss(
          { student: f32('s', [B, T, V]), teacher: f32('t', [B, T, V]), labels: i64('labels', [B, T]) },
          logitKdSchema.parse({ kind: 'logits', divergence, temperature: 2, alpha: 0.5 }),
        ).loss,
      values: { labels: LABELS },
    }),
  ),
  {
    name: 'logit KD classifier (B, C)',
    loss: () =>
      logitKdLoss(
        { student: f32('s', [4, 5]), teacher: f32('t', [4, 5]), labels: i64('labels', [4]) },
        logitKdSchema.parse({ kind: 'logits', divergence: 'skewKl', temperature: 3 }),
      ).loss,
    values: { labels: [4, 0, -100, 2] },
  },
  {
    name: 'logit KD, padded vocabularies 9 vs 8 cut to realVocab 7, with a mask',
    loss: () =>
      logitKdLoss(
        {
          student: f32('s', [B, T, 9]),
          teacher: f32('t', [B, T, 8]),
          labels: i64('labels', [B, T]),
          mask: i64('mask', [B, T]),
        },
        logitKdSchema.parse({ kind: 'logits', divergence: 'jsd', beta: 0.3, realVocab: 7 }),
      ).loss,
    values: { labels: LABELS, mask: MASK },
  },
  ...(['forwardKl', 'jsd', 'skewReverseKl'] as const).map(
    (divergence): Case => ({
      name: `top-k ${divergence}, k = 3, T = 2`,
      loss: () =>
        topkKdLoss(
          {
            student: f32('s', [B, T, V]),
            teacher: { ids: i64('ids', [B, T, 3]), logprobs: f32('lp', [B, T, 3]) },
            labels: i64('labels', [B, T]),
          },
          topkKdSchema.parse({ kind: 'topk', divergence, temperature: 2, alpha: 0.8 }),
        ).loss,
      values: { labels: LABELS, ids: topkValues().ids, lp: topkValues().logprobs },
    }),
  ),
  {
    name: 'top-k forwardKl with the stored tail mass, k = 3, T = 2',
    loss: () =>
      topkKdLoss(
        {
          student: f32('s', [B, T, V]),
          teacher: { ids: i64('ids', [B, T, 3]), logprobs: f32('lp', [B, T, 3]), tail: f32('tail', [B, T, 1]) },
          labels: i64('labels', [B, T]),
        },
        topkKdSchema.parse({ kind: 'topk', temperature: 2, alpha: 0.8 }),
      ).loss,
    values: {
      labels: LABELS,
      ids: topkValues().ids,
      lp: topkValues().logprobs,
      tail: Array.from({ length: B * T }, (_, n) =>
        Math.log1p(
          -topkValues()
            .logprobs.slice(n * 3, n * 3 + 3)
            .reduce((a, v) => a + Math.exp(v), 0),
        ),
      ),
    },
  },
  ...(['mse', 'cosine'] as const).map(
    (metric): Case => ({
      name: `hidden-state ${metric} through learned projections, masked`,
      loss: () => {
        const l = new HiddenStateLoss(
          hiddenLossSchema.parse({ kind: 'hidden', metric, projectionBias: true, weights: [2, 1] }),
          {
            student: { layers: 2, hidden: 3 },
            teacher: { layers: 4, hidden: 5 },
          },
        );
        const sh = [0, 1, 2].map((i) => f32(`sh${i}`, [B, T, 3])),
          th = [0, 1, 2, 3, 4].map((i) => f32(`th${i}`, [B, T, 5]));
        return l.forward({ student: { hidden: sh }, teacher: { hidden: th }, mask: i64('mask', [B, T]) }).loss;
      },
      values: { mask: MASK },
    }),
  ),
  ...(['auto', 'average'] as const).map(
    (heads): Case => ({
      name: `attention-map KL, causal, heads ${heads}`,
      loss: () =>
        attentionMapKl(
          softmax(causalMask(f32('ts', [B, 4, T, T]))),
          softmax(causalMask(f32('ss', [B, heads === 'auto' ? 4 : 2, T, T]))),
          { heads, eps: 1e-8, mask: i64('mask', [B, T]) },
        ),
      values: { mask: MASK },
    }),
  ),
  {
    name: 'value relation re-split 4×2 vs 2×3, causal, masked',
    loss: () =>
      valueRelationKl(f32('tv', [B, 4, T, 2]), f32('sv', [B, 2, T, 3]), { causal: true, mask: i64('mask', [B, T]) }),
    values: { mask: MASK },
  },
  {
    name: 'combineLosses with fed weights',
    loss: () =>
      combineLosses(
        {
          a: logitKdLoss(
            { student: f32('s', [B, T, V]), teacher: f32('t', [B, T, V]) },
            logitKdSchema.parse({ kind: 'logits', alpha: 1 }),
          ).loss,
          b: valueRelationKl(f32('tv', [B, 2, T, 3]), f32('sv', [B, 2, T, 3])),
        },
        lossWeightInputs(['a', 'b']),
      ).total,
    values: { 'loss.weight.a': [0.7], 'loss.weight.b': [2.5] },
  },
];

function feedsFor(leaves: readonly Tensor[], values: Record<string, number[]>): Record<string, HostTensor> {
  let seed = 900;
  return Object.fromEntries(
    leaves.map((t) => {
      const n = t.size;
      const v = values[t.name!] ?? randomValues(n, seed++, 2);
      return [t.name!, hostTensor(t.dtype as DType, t.shape, v)];
    }),
  );
}

function compare(what: string, got: HostTensor, want: HostTensor): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const a = toNumbers(got),
    b = toNumbers(want);
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!));
    assert.ok(
      err <= TOL,
      `${what}[${i}]: onnxruntime ${a[i]} vs reference ${b[i]} (error ${err.toExponential(2)} > ${TOL})`,
    );
  }
}

for (const c of cases) {
  test(`onnxruntime = reference: ${c.name}`, async () => {
    const loss = c.loss();
    const leaves = topoSort([loss]).filter((t) => t.leaf && t.leaf !== 'constant');
    const floats = leaves.filter((t) => isFloat(t.dtype) && !t.name!.startsWith('loss.weight.'));
    const grads = grad(loss, floats);
    const outputs: Record<string, Tensor> = {
      loss,
      ...Object.fromEntries(floats.map((x, k) => [`d_${x.name}`, grads[k]!])),
    };
    const feeds = feedsFor(leaves, c.values ?? {});
    const want = await (await reference.compile(outputs)).run(feeds);
    assert.ok(
      Number.isFinite(toNumbers(want.loss!)[0]!) && toNumbers(want.loss!)[0]! > 0,
      `${c.name}: reference loss ${toNumbers(want.loss!)[0]}`,
    );
    // Batched transposed matmuls (value relations) lower to FusedMatMul or Transpose+MatMul: check both.
    for (const contribOps of [true, false]) {
      const got = await (await ort.compile(outputs, { threads: 1, contribOps })).run(feeds);
      for (const name of Object.keys(outputs))
        compare(`${c.name} (contribOps: ${contribOps}): ${name}`, got[name]!, want[name]!);
    }
  });
}
