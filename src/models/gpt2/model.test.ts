import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as g from '../../graph/index.ts';
import { defaultAdamW, TrainStep } from '../../optim/index.ts';
import { hostTensor, mulberry32, ReferenceExecutor, OrtExecutor, ParamStore } from '../../runtime/index.ts';
import { Gpt2 } from './model.ts';

const tiny = { vocabSize: 32, maxPositions: 16, dModel: 32, nLayers: 2, nHeads: 4 };

test('a small causal transformer overfits one batch (loss < 0.05)', async () => {
  const model = new Gpt2(tiny);
  const ids = g.input('input_ids', [4, 16], 'int64');
  const labels = g.input('labels', [4, 16], 'int64');
  const loss = g.crossEntropy(model.forward(ids).logits, labels);
  const step = await TrainStep.create({ loss, optimizer: defaultAdamW({ weightDecay: 0 }), clipNorm: 1, seed: 1 });
  const rng = mulberry32(7);
  const seq = Array.from({ length: 4 * 17 }, () => Math.floor(rng() * 32));
  const x: number[] = [],
    y: number[] = [];
  for (let b = 0; b < 4; b++) {
    x.push(...seq.slice(b * 17, b * 17 + 16));
    y.push(...seq.slice(b * 17 + 1, b * 17 + 17));
  }
  const batch = { input_ids: hostTensor('int64', [4, 16], x), labels: hostTensor('int64', [4, 16], y) };
  let first = 0,
    last = Infinity;
  for (let i = 0; i < 150 && last >= 0.05; i++) {
    last = (await step.run(batch, 3e-3)).loss;
    if (i === 0) first = last;
  }
  assert.ok(first > 3, `initial loss ${first} should be near ln(32) = 3.47`);
  assert.ok(last < 0.05, `loss only reached ${last}`);
});

test('GPT-2 forward agrees between onnxruntime and the reference interpreter', async () => {
  const model = new Gpt2({ ...tiny, gelu: 'tanh' });
  const ids = g.input('input_ids', [2, 8], 'int64');
  const out = model.forward(ids);
  const params = ParamStore.init(model.params.values(), 3);
  const feeds = {
    input_ids: hostTensor(
      'int64',
      [2, 8],
      Array.from({ length: 16 }, (_, i) => (i * 5) % 32),
    ),
    ...Object.fromEntries(params.values),
  };
  const outputs = { logits: out.logits, h1: out.hidden[1]!, att: out.attentions[0]! };
  const a = await (await new OrtExecutor().compile(outputs)).run(feeds);
  const b = await (await new ReferenceExecutor().compile(outputs)).run(feeds);
  for (const k of Object.keys(outputs)) {
    const x = a[k]!.data as Float32Array,
      y = b[k]!.data as Float32Array;
    let worst = 0;
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y[i]!))));
    assert.ok(worst < 1e-4, `${k}: max abs diff ${worst}`);
  }
});
