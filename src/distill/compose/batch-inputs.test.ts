// Task batches through the objective: loss only on answer tokens, and packing that changes nothing
// (block-diagonal attention and restarting positions make a packed row compute what separate rows do).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchArrays, type EncodedExample } from '../../data/task/index.ts';
import * as g from '../../graph/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { Llama } from '../../models/llama/model.ts';
import type { DecoderModel } from '../../models/types.ts';
import { defaultExecutor, hostTensor, ParamStore, toNumbers } from '../../runtime/index.ts';
import { batchInputs, type BatchLayout } from './batch-inputs.ts';

const V = 40;
const T = 12;
const ex = (id: string, ids: number[], answerFrom: number): EncodedExample => ({
  id,
  ids: Int32Array.from(ids),
  train: Uint8Array.from(ids.map((_, i) => (i >= answerFrom ? 1 : 0))),
});
const a = ex('a', [1, 5, 6, 7, 20, 21, 22], 4); // prompt 1 5 6 7, answer 20 21 22
const b = ex('b', [1, 8, 9, 30, 31], 3);

const models: [string, () => DecoderModel][] = [
  ['GPT-2', () => new Gpt2({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 2, nHeads: 2 })],
  [
    'Llama',
    () => new Llama({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, mlpHidden: 32 }),
  ],
];

/** Per-position cross-entropy (B, T) and logits of a batch laid out with `layout`. */
async function run(
  model: DecoderModel,
  params: ParamStore,
  rows: EncodedExample[][],
  layout: BatchLayout,
  traced: BatchLayout = layout,
) {
  const B = rows.length;
  const x = batchInputs(B, T, traced);
  const out = model.forward(x.ids, x.forward);
  const ce = g.crossEntropy(out.logits, x.labels);
  const exec = await defaultExecutor();
  const program = await exec.compile({ ce, logits: out.logits }, { name: 'task-batch' });
  const arrays = batchArrays(rows, { batch: B, seq: T, padId: 0, packed: layout.packed });
  const feeds: Record<string, ReturnType<typeof hostTensor>> = {};
  for (const [k, v] of Object.entries(arrays)) if (v) feeds[k] = hostTensor('int64', [B, T], v);
  for (const [k, v] of params.values) feeds[k] = v;
  const r = await program.run(feeds);
  return { ce: toNumbers(r.ce!)[0]!, logits: toNumbers(r.logits!), labels: [...arrays.labels].map(Number) };
}

for (const [name, make] of models) {
  test(`${name}: the loss reads answer tokens only, and packing two examples equals padding each`, async () => {
    const model = make();
    const params = ParamStore.init(model.params.values(), 3);
    const padded = await run(model, params, [[a], [b]], { mask: true, packed: false });
    // Labels: exactly the answer tokens, each at the position before it.
    const trained = padded.labels.filter((l) => l !== -100);
    assert.deepEqual(trained, [20, 21, 22, 30, 31]);
    assert.deepEqual(padded.labels.slice(0, 6), [-100, -100, -100, 20, 21, 22]);
    const packed = await run(model, params, [[a, b]], { mask: true, packed: true });
    assert.deepEqual(
      packed.labels.filter((l) => l !== -100),
      [20, 21, 22, 30, 31],
    );
    assert.ok(Math.abs(packed.ce - padded.ce) < 1e-5, `packed CE ${packed.ce} vs padded ${padded.ce}`);
    // Logits of b's positions in the packed row equal b's own row: b saw nothing of a.
    const bStart = a.ids.length - 1; // a feeds 6 inputs
    for (let t = 0; t < b.ids.length - 1; t++) {
      for (let v = 0; v < V; v++) {
        const p = packed.logits[(bStart + t) * V + v]!,
          q = padded.logits[(T + t) * V + v]!;
        assert.ok(Math.abs(p - q) < 1e-4, `position ${t}, token ${v}: ${p} vs ${q}`);
      }
    }
    // The same packed row traced without segments and positions lets b see a: the losses differ.
    const leaky = await run(model, params, [[a, b]], { mask: true, packed: true }, { mask: true, packed: false });
    assert.ok(Math.abs(leaky.ce - padded.ce) > 1e-4, `leaky CE ${leaky.ce} vs ${padded.ce}`);
  });
}
