// The table: every kind has a row that validates its config and builds a loss; and every loss runs
// end to end on a real (tiny) GPT-2 student's outputs through fromDecoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../../autodiff/index.ts';
import { input, type Tensor } from '../../graph/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { hostTensor, toNumbers, type HostTensor } from '../../runtime/host.ts';
import { ParamStore } from '../../runtime/params.ts';
import { ReferenceExecutor } from '../../runtime/reference.ts';
import { combineLosses, LossBalancer, lossWeightInputs } from './balance.ts';
import { createLoss, distillLossSchema, lossRules } from './rules.ts';
import { randomValues } from './testing.ts';
import type { DecoderModel } from '../../models/types.ts';
import { fromDecoder, lossDimsOf, type DistillBatch, type LossKind } from './types.ts';

const KINDS: LossKind[] = ['logits', 'topk', 'hidden', 'attention', 'valueRelation'];

test('one row per loss kind, each with a citation and a schema whose kind is its key', () => {
  assert.deepEqual(Object.keys(lossRules).sort(), [...KINDS].sort());
  for (const k of KINDS) {
    const row = lossRules[k];
    assert.ok(row.cite.length > 10 && row.needs.length > 0, k);
    assert.equal(distillLossSchema.parse({ kind: k }).kind, k);
  }
});

test('createLoss validates configs and names the field', () => {
  assert.throws(() => createLoss({ kind: 'logits', temperature: -1 }), /temperature: .*(positive|>0|too small)/i);
  assert.throws(() => createLoss({ kind: 'logits', divergence: 'tv' as never }), /divergence/);
  assert.throws(() => createLoss({ kind: 'nope' } as never), /kinds: logits, topk, hidden, attention, valueRelation/);
  const l = createLoss({ kind: 'logits', divergence: 'jsd', beta: 0.2 });
  assert.equal(l.kind, 'logits');
  assert.throws(() => l.forward({ student: {}, teacher: {} }), /batch\.student\.logits is missing/);
  assert.throws(
    () => createLoss({ kind: 'logits', alpha: 1 }).forward({ student: { logits: input('s', [2, 5]) }, teacher: {} }),
    /kind 'topk' for sparse top-k targets/,
  );
});

test('every loss runs on a tiny GPT-2 student through fromDecoder, and its gradient reaches the student', async () => {
  const B = 2,
    T = 4,
    V = 11;
  const student = new Gpt2({ vocabSize: V, maxPositions: 8, dModel: 8, nLayers: 2, nHeads: 2 });
  const ids = input('input_ids', [B, T], 'int64');
  const s = fromDecoder(student.forward(ids));
  // The teacher, wider and deeper, as the tensors it would hand over: 4 blocks, 12 wide, 3 heads, vocab padded to 13.
  const teacher = {
    logits: input('t.logits', [B, T, 13]),
    hidden: Array.from({ length: 5 }, (_, i) => input(`t.hidden.${i}`, [B, T, 12])),
    attentions: Array.from({ length: 4 }, (_, i) => input(`t.attn.${i}`, [B, 3, T, T])),
    values: Array.from({ length: 4 }, (_, i) => input(`t.values.${i}`, [B, 3, T, 4])),
    topk: { ids: input('t.topk.ids', [B, T, 3], 'int64'), logprobs: input('t.topk.logprobs', [B, T, 3]) },
  };
  const batch: DistillBatch = {
    student: s,
    teacher,
    labels: input('labels', [B, T], 'int64'),
    mask: input('mask', [B, T], 'int64'),
  };
  const dims = lossDimsOf(student, { config: { vocabSize: 13, dModel: 12, nLayers: 4, nHeads: 3 } } as DecoderModel);
  assert.deepEqual(dims, { student: { layers: 2, hidden: 8 }, teacher: { layers: 4, hidden: 12 } });
  const losses = {
    logits: createLoss({ kind: 'logits', realVocab: V, temperature: 2 }),
    topk: createLoss({ kind: 'topk', alpha: 1 }),
    hidden: createLoss({ kind: 'hidden', metric: 'cosine' }, dims),
    attention: createLoss({ kind: 'attention', layers: { kind: 'uniform' } }),
    valueRelation: createLoss({ kind: 'valueRelation', relationHeads: 2, causal: true }),
  };
  assert.deepEqual([...losses.hidden.params.keys()], ['distill.proj.0.weight', 'distill.proj.1.weight']);
  const terms: Record<string, Tensor> = Object.fromEntries(
    Object.entries(losses).map(([k, l]) => [k, l.forward(batch).loss]),
  );
  const { total } = combineLosses(terms, lossWeightInputs(Object.keys(terms)));
  const wte = student.params.get('transformer.wte.weight')!;
  const proj = losses.hidden.params.get('distill.proj.0.weight')!;
  const [dWte, dProj] = grad(total, [wte, proj]);

  const prog = await new ReferenceExecutor().compile({ total, ...terms, dWte: dWte!, dProj: dProj! });
  const params = ParamStore.init([...student.params.values(), ...losses.hidden.params.values()], 0);
  const feeds: Record<string, HostTensor> = {};
  let seed = 100;
  for (const spec of prog.inputs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.kind === 'param') feeds[spec.name] = params.get(spec.name);
    else if (spec.name === 'input_ids')
      feeds[spec.name] = hostTensor(
        'int64',
        spec.shape,
        Array.from({ length: n }, (_, i) => (i * 7) % V),
      );
    else if (spec.name === 'labels') feeds[spec.name] = hostTensor('int64', spec.shape, [1, 2, 3, -100, 4, 5, 6, 7]);
    else if (spec.name === 'mask') feeds[spec.name] = hostTensor('int64', spec.shape, [1, 1, 1, 1, 1, 1, 1, 0]);
    else if (spec.name === 't.topk.ids')
      feeds[spec.name] = hostTensor(
        'int64',
        spec.shape,
        Array.from({ length: n }, (_, i) => (i * 5) % V),
      );
    else if (spec.name === 't.topk.logprobs')
      feeds[spec.name] = hostTensor('float32', spec.shape, Array(n).fill(Math.log(0.2)));
    else if (spec.name.startsWith('t.attn'))
      feeds[spec.name] = hostTensor(
        'float32',
        spec.shape,
        Array.from({ length: n }, (_, i) => {
          const q = Math.floor(i / T) % T,
            k = i % T;
          return k <= q ? 1 / (q + 1) : 0;
        }),
      );
    else if (spec.name.startsWith('loss.weight.')) feeds[spec.name] = hostTensor('float32', [], [1]);
    else feeds[spec.name] = hostTensor('float32', spec.shape, randomValues(n, seed++));
  }
  const out = await prog.run(feeds);
  for (const k of [...KINDS, 'total']) {
    const v = toNumbers(out[k]!)[0]!;
    assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
  }
  for (const k of ['dWte', 'dProj']) {
    const g = toNumbers(out[k]!);
    assert.ok(g.every(Number.isFinite) && g.some((x) => x !== 0), `${k} is finite and nonzero`);
  }
  // The balancer's feeds fit the same program.
  const bal = new LossBalancer({ weights: Object.fromEntries(KINDS.map((k) => [k, 1])), mode: 'auto' });
  bal.observe(Object.fromEntries(KINDS.map((k) => [k, toNumbers(out[k]!)[0]!])));
  const again = await prog.run({ ...feeds, ...bal.feeds(1) });
  assert.ok(Math.abs(toNumbers(again.total!)[0]! - KINDS.length) < 1e-4, 'auto weights make each term contribute ≈ 1');
});
