import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as g from '../graph/index.ts';
import { hostTensor, ParamStore } from '../runtime/index.ts';
import { defaultAdamW, defaultSgd } from './optimizers.ts';
import { TrainStep } from './train-step.ts';

// loss = 0.5·Σ (p − t)², so grad = p − t: the updates can be written out by hand.
const target = [0.5, -1, 2];
function quadratic() {
  const p = g.param('p', [3]);
  const t = g.input('t', [3]);
  const d = g.sub(p, t);
  return g.mul(g.reduceSum(g.mul(d, d)), 0.5);
}
const start = new Float32Array([1, 2, -3]);
const feeds = { t: hostTensor('float32', [3], target) };

async function run(optimizer: Parameters<typeof TrainStep.create>[0]['optimizer'], lrs: number[]) {
  const params = new ParamStore();
  params.set('p', hostTensor('float32', [3], start.slice()));
  const step = await TrainStep.create({ loss: quadratic(), optimizer, params, decay: () => true });
  for (const lr of lrs) await step.run(feeds, lr);
  return Array.from(step.params.get('p').data as Float32Array);
}

test('AdamW follows torch.optim.AdamW step for step', async () => {
  const [b1, b2, eps, wd] = [0.9, 0.99, 1e-8, 0.1];
  const lrs = [0.1, 0.05, 0.02];
  const p = Array.from(start),
    m = [0, 0, 0],
    v = [0, 0, 0];
  lrs.forEach((lr, s) => {
    for (let i = 0; i < 3; i++) {
      const gr = p[i]! - target[i]!;
      p[i]! *= 1 - lr * wd;
      m[i] = b1 * m[i]! + (1 - b1) * gr;
      v[i] = b2 * v[i]! + (1 - b2) * gr * gr;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** (s + 1)) + eps;
      p[i]! -= (lr / (1 - b1 ** (s + 1))) * (m[i]! / denom);
    }
  });
  const got = await run(defaultAdamW({ betas: [b1, b2], eps, weightDecay: wd }), lrs);
  got.forEach((x, i) => assert.ok(Math.abs(x - p[i]!) < 1e-6, `p[${i}] = ${x}, torch's rule gives ${p[i]}`));
});

test('SGD with momentum and Nesterov follow torch.optim.SGD', async () => {
  for (const nesterov of [false, true]) {
    const mom = 0.9,
      lrs = [0.1, 0.1, 0.1];
    const p = Array.from(start),
      buf = [0, 0, 0];
    for (const lr of lrs) {
      for (let i = 0; i < 3; i++) {
        const gr = p[i]! - target[i]!;
        buf[i] = mom * buf[i]! + gr;
        p[i]! -= lr * (nesterov ? gr + mom * buf[i]! : buf[i]!);
      }
    }
    const got = await run(defaultSgd({ momentum: mom, nesterov }), lrs);
    got.forEach((x, i) => assert.ok(Math.abs(x - p[i]!) < 1e-5, `nesterov=${nesterov} p[${i}] = ${x} vs ${p[i]}`));
  }
});
