// Chunked losses (lossChunk) against the unchunked form: the same value, parts and gradients, on
// the reference interpreter in float64 (to rounding) and on onnxruntime in float32, for logit KD
// from an in-graph teacher's head and from fed logits, top-k KD, every divergence, temperature,
// labels with ignored positions and a padding mask (one chunk keeps nothing at all).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkRows, grad } from '../../autodiff/index.ts';
import { input, matmul, reshape, type DType, type Tensor } from '../../graph/index.ts';
import { hostTensor, toNumbers, type HostTensor } from '../../runtime/host.ts';
import { OrtExecutor } from '../../runtime/ort.ts';
import { ReferenceExecutor } from '../../runtime/reference.ts';
import { chunkedLoss } from './chunked.ts';
import { divergenceKinds } from './divergence.ts';
import { createLoss, type DistillLossConfigInput } from './index.ts';
import { finiteDifferenceCheck, randomValues } from './testing.ts';
import type { DistillBatch } from './types.ts';

const [B, T, D, DT, V, K] = [2, 4, 3, 5, 11, 3];
// Positions 4..5 (the second chunk of two) are all ignored or padded: that chunk adds nothing.
const LABELS = [1, -100, 6, 0, -100, 2, 5, 10];
const MASK = [1, 1, 1, 1, 1, 0, 1, 1];

function leaves(dtype: DType) {
  return {
    sFinal: input('s.final', [B, T, D], dtype),
    sW: input('s.w', [V, D], dtype),
    sBias: input('s.b', [V], dtype),
    tFinal: input('t.final', [B, T, DT], dtype),
    tW: input('t.w', [V, DT], dtype),
    tLogits: input('t.logits', [B, T, V], dtype),
    ids: input('t.ids', [B, T, K], 'int64'),
    logprobs: input('t.logprobs', [B, T, K], dtype),
    tail: input('t.tail', [B, T, 1], dtype),
    labels: input('labels', [B, T], 'int64'),
    mask: input('mask', [B, T], 'int64'),
  };
}
type Leaves = ReturnType<typeof leaves>;

function feeds(dtype: 'float32' | 'float64'): Record<string, HostTensor> {
  const f = (name: string, shape: number[], seed: number, scale = 1) =>
    [
      name,
      hostTensor(
        dtype,
        shape,
        randomValues(
          shape.reduce((a, b) => a * b, 1),
          seed,
          scale,
        ),
      ),
    ] as const;
  // Valid teacher log-probs for K ids per position: distinct ids, probabilities summing below 1.
  const ids = Array.from({ length: B * T * K }, (_, i) => (Math.floor(i / K) * 3 + (i % K) * 4) % V);
  const logprobs = Array.from({ length: B * T * K }, (_, i) => Math.log(0.5 / (1 + (i % K))) - 0.1 * (i % 5));
  return Object.fromEntries([
    f('s.final', [B, T, D], 1, 2),
    f('s.w', [V, D], 2),
    f('s.b', [V], 3, 0.5),
    f('t.final', [B, T, DT], 4, 2),
    f('t.w', [V, DT], 5),
    f('t.logits', [B, T, V], 6, 3),
    ['t.ids', hostTensor('int64', [B, T, K], ids)],
    ['t.logprobs', hostTensor(dtype, [B, T, K], logprobs)],
    [
      't.tail',
      hostTensor(
        dtype,
        [B, T, 1],
        Array.from({ length: B * T }, (_, i) => Math.log(0.05 + 0.02 * i)),
      ),
    ],
    ['labels', hostTensor('int64', [B, T], LABELS)],
    ['mask', hostTensor('int64', [B, T], MASK)],
  ]);
}

const headLogits = (final: Tensor, w: Tensor, rows: number) =>
  reshape(matmul(reshape(final, [rows, final.shape[2]!]), w, { transB: true }), [B, T, V]);

interface Case {
  name: string;
  config: DistillLossConfigInput;
  teacher: 'head' | 'logits' | 'topk' | 'topk+tail';
  bias?: boolean;
}

const cases: Case[] = [
  ...divergenceKinds.map(
    (divergence): Case => ({
      name: `logits ${divergence}, T 2, in-graph teacher head`,
      config: { kind: 'logits', divergence, temperature: 2, alpha: 0.5 },
      teacher: 'head',
    }),
  ),
  { name: 'logits forwardKl, fed teacher logits, alpha 1', config: { kind: 'logits', alpha: 1 }, teacher: 'logits' },
  { name: 'topk forwardKl, T 1.5', config: { kind: 'topk', temperature: 1.5, alpha: 0.3 }, teacher: 'topk' },
  { name: 'topk with a stored tail, T 2', config: { kind: 'topk', temperature: 2 }, teacher: 'topk+tail' },
];

/** The loss both ways: the dense (B, T, V) form, and chunked in chunks of 2 positions. */
function build(c: Case, x: Leaves, chunked: boolean) {
  const loss = createLoss(c.config, { student: { layers: 1, hidden: D }, teacher: { layers: 1, hidden: DT } });
  const sHead = { final: x.sFinal, weight: x.sW, layout: 'out_in' as const };
  const teacher: DistillBatch['teacher'] =
    c.teacher === 'head'
      ? { logits: headLogits(x.tFinal, x.tW, B * T), head: { final: x.tFinal, weight: x.tW, layout: 'out_in' } }
      : c.teacher === 'logits'
        ? { logits: x.tLogits }
        : c.teacher === 'topk'
          ? { topk: { ids: x.ids, logprobs: x.logprobs } }
          : { topk: { ids: x.ids, logprobs: x.logprobs, tail: x.tail } };
  const batch: DistillBatch = {
    student: { logits: headLogits(x.sFinal, x.sW, B * T), head: sHead },
    teacher,
    labels: x.labels,
    mask: x.mask,
  };
  const out = chunked ? chunkedLoss(loss, batch, { chunk: 2, ignoreIndex: -100, grads: true }) : loss.forward(batch);
  const [dFinal, dW] = grad(out.loss, [x.sFinal, x.sW]);
  return { loss: out.loss, ...out.parts, dFinal: dFinal!, dW: dW! };
}

async function run(outputs: Record<string, Tensor>, f: Record<string, HostTensor>, ort: boolean) {
  const exec = ort ? new OrtExecutor() : new ReferenceExecutor();
  const prog = await exec.compile(outputs);
  const used = Object.fromEntries(prog.inputs.map((s) => [s.name, f[s.name]!]));
  const res = await prog.run(used);
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, [...toNumbers(v)]]));
}

function assertAllClose(got: Record<string, number[]>, want: Record<string, number[]>, tol: number, what: string) {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${what}: the same outputs`);
  for (const [k, w] of Object.entries(want))
    w.forEach((v, i) =>
      assert.ok(
        Math.abs(got[k]![i]! - v) <= tol * (1 + Math.abs(v)),
        `${what} ${k}[${i}]: chunked ${got[k]![i]}, unchunked ${v}`,
      ),
    );
}

for (const c of cases) {
  test(`chunked ${c.name}: value, parts and gradients equal the unchunked loss (float64 reference, float32 onnxruntime)`, async () => {
    const x64 = leaves('float64');
    const ref = await run(build(c, x64, false), feeds('float64'), false);
    const refChunked = await run(build(c, x64, true), feeds('float64'), false);
    assertAllClose(refChunked, ref, 1e-12, 'reference');
    const x32 = leaves('float32');
    const ortChunked = await run(build(c, x32, true), feeds('float32'), true);
    assertAllClose(ortChunked, ref, 2e-5, 'onnxruntime');
    assert.ok(
      ref.dW!.some((v) => v !== 0),
      'the weight gradient is not trivially zero',
    );
  });
}

test('the chunked loss has the gradient of its value (finite differences, with the head bias)', async () => {
  const x = leaves('float64');
  const loss = createLoss(
    { kind: 'logits', temperature: 2 },
    { student: { layers: 1, hidden: D }, teacher: { layers: 1, hidden: DT } },
  );
  const out = chunkedLoss(
    loss,
    {
      student: { head: { final: x.sFinal, weight: x.sW, bias: x.sBias, layout: 'out_in' } },
      teacher: { head: { final: x.tFinal, weight: x.tW, layout: 'out_in' } },
      labels: x.labels,
      mask: x.mask,
    },
    { chunk: 4, ignoreIndex: -100, grads: true },
  );
  const checked = await finiteDifferenceCheck(out.loss, feeds('float64'), ['s.final', 's.w', 's.b'], 1e-6);
  assert.equal(checked, B * T * D + V * D + V);
});

test('chunkRows: auto chunks only past 256 MB of logits, in chunks that divide the rows', () => {
  assert.equal(chunkRows('auto', 8 * 64, 1024), null, 'a demo-sized batch stays whole');
  assert.equal(chunkRows('off', 8 * 512, 151_936), null);
  const c = chunkRows('auto', 8 * 512, 151_936)!;
  assert.ok(c > 0 && (8 * 512) % c === 0 && c * 151_936 * 4 <= 160 * 2 ** 20 && c >= 256, `auto picked ${c}`);
  assert.equal(chunkRows(50, 96, 10), 48, 'the largest divisor of the rows not above the setting');
  assert.equal(chunkRows(100, 96, 10), null, 'a chunk as large as the batch is no chunking');
  assert.equal(chunkRows(7, 96, 10), 6);
});
