import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as g from '../graph/index.ts';
import { hostTensor, ReferenceExecutor } from '../runtime/index.ts';
import { defaultAdamW, defaultSgd } from './optimizers.ts';
import { TrainStep } from './train-step.ts';

function xorModel() {
  const x = g.input('x', [4, 2]);
  const y = g.input('y', [4], 'int64');
  const w1 = g.param('w1', [2, 8], { kind: 'normal', std: 1 });
  const b1 = g.param('b1', [8], { kind: 'zeros' });
  const w2 = g.param('w2', [8, 2], { kind: 'normal', std: 1 });
  const h = g.tanh(g.add(g.matmul(x, w1), b1));
  const logits = g.matmul(h, w2);
  return { loss: g.crossEntropy(logits, y), logits };
}
const xorBatch = {
  x: hostTensor('float32', [4, 2], [0, 0, 0, 1, 1, 0, 1, 1]),
  y: hostTensor('int64', [4], [0, 1, 1, 0]),
};

test('an MLP learns XOR with AdamW in onnxruntime', async () => {
  const { loss } = xorModel();
  const step = await TrainStep.create({ loss, optimizer: defaultAdamW({ weightDecay: 0 }), seed: 3 });
  let last = Infinity;
  for (let i = 0; i < 300; i++) last = (await step.run(xorBatch, 0.05)).loss;
  assert.ok(last < 0.05, `XOR loss stayed at ${last}`);
});

test('an MLP learns XOR with SGD momentum and clipping', async () => {
  const { loss } = xorModel();
  const step = await TrainStep.create({ loss, optimizer: defaultSgd({ momentum: 0.9 }), clipNorm: 1, seed: 5 });
  let last = Infinity;
  for (let i = 0; i < 500; i++) last = (await step.run(xorBatch, 0.1)).loss;
  assert.ok(last < 0.1, `XOR loss stayed at ${last}`);
});

test('a training step in onnxruntime matches the reference interpreter', async () => {
  const a = await TrainStep.create({ loss: xorModel().loss, optimizer: defaultAdamW(), clipNorm: 0.5, seed: 9 });
  const b = await TrainStep.create({
    loss: xorModel().loss,
    optimizer: defaultAdamW(),
    clipNorm: 0.5,
    seed: 9,
    executor: new ReferenceExecutor(),
  });
  for (let i = 0; i < 3; i++) {
    const ra = await a.run(xorBatch, 0.01),
      rb = await b.run(xorBatch, 0.01);
    assert.ok(Math.abs(ra.loss - rb.loss) < 1e-5, `loss ${ra.loss} vs ${rb.loss}`);
    assert.ok(Math.abs(ra.gradNorm - rb.gradNorm) < 1e-4);
  }
  for (const name of a.trainableNames) {
    const pa = a.params.get(name).data as Float32Array,
      pb = b.params.get(name).data as Float32Array;
    pa.forEach((v, i) => assert.ok(Math.abs(v - pb[i]!) < 1e-5, `${name}[${i}] ${v} vs ${pb[i]}`));
  }
});

test('same seed, same numbers', async () => {
  const run = async () => {
    const s = await TrainStep.create({ loss: xorModel().loss, optimizer: defaultAdamW(), seed: 11 });
    const losses = [];
    for (let i = 0; i < 5; i++) losses.push((await s.run(xorBatch, 0.01)).loss);
    return losses;
  };
  assert.deepEqual(await run(), await run());
});

test('optimizer state restored into a fresh step continues the run exactly', async () => {
  const a = await TrainStep.create({ loss: xorModel().loss, optimizer: defaultAdamW(), clipNorm: 1, seed: 2 });
  for (let i = 0; i < 4; i++) await a.run(xorBatch, 0.02);
  const snapshot = a.state();
  const copy = {
    step: snapshot.step,
    params: new (a.params.constructor as typeof import('../runtime/index.ts').ParamStore)(),
    opt: new Map([...snapshot.opt].map(([k, v]) => [k, { ...v, data: v.data.slice() }])),
  };
  for (const [k, v] of snapshot.params.values) copy.params.set(k, { ...v, data: v.data.slice() });
  const b = await TrainStep.create({ loss: xorModel().loss, optimizer: defaultAdamW(), clipNorm: 1, seed: 99 });
  b.restore(copy);
  for (let i = 0; i < 3; i++) {
    const ra = await a.run(xorBatch, 0.02),
      rb = await b.run(xorBatch, 0.02);
    assert.equal(ra.step, rb.step);
    assert.equal(ra.loss, rb.loss);
  }
});
