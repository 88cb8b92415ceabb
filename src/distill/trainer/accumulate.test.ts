// Gradient accumulation (TrainStep.runAccumulated, used by Trainer's `accumulate`): K micro-batches of
// B rows must take the same step as one batch of K·B rows, up to float32 summation order.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as g from '../../graph/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../../optim/index.ts';
import { hostTensor, mulberry32, ParamStore, type HostTensor } from '../../runtime/index.ts';
import { loadCheckpoint } from '../checkpoint/index.ts';
import { MetricsLog } from './metrics-log.ts';
import { tmpDirs } from './testing/tmp-dirs.ts';
import { tinyOptions } from './testing/tiny-run.ts';
import { Trainer } from './trainer.ts';

const tmp = tmpDirs('retort-acc-');

const cfg = { vocabSize: 16, maxPositions: 8, dModel: 16, nLayers: 1, nHeads: 2 };

async function stepFor(rows: number) {
  const model = new Gpt2(cfg);
  const ids = g.input('input_ids', [rows, 8], 'int64'),
    labels = g.input('labels', [rows, 8], 'int64');
  const loss = g.crossEntropy(model.forward(ids).logits, labels);
  const params = ParamStore.init(model.params.values(), 4);
  return TrainStep.create({ loss, optimizer: defaultAdamW(), clipNorm: 0.5, params, threads: 1 });
}

function rowsOf(seed: number, rows: number): { input_ids: HostTensor; labels: HostTensor } {
  const rng = mulberry32(seed);
  const x = Array.from({ length: rows * 8 }, () => Math.floor(rng() * 16)),
    y = Array.from({ length: rows * 8 }, () => Math.floor(rng() * 16));
  return { input_ids: hostTensor('int64', [rows, 8], x), labels: hostTensor('int64', [rows, 8], y) };
}
const slice = (t: HostTensor, from: number, to: number): HostTensor =>
  hostTensor('int64', [to - from, 8], (t.data as BigInt64Array).slice(from * 8, to * 8));

test('two micro-batches of 2 rows take the same AdamW step (with clipping) as one batch of 4', async () => {
  const whole = await stepFor(4),
    micro = await stepFor(2);
  for (let s = 0; s < 3; s++) {
    const b = rowsOf(100 + s, 4);
    const halves = [0, 2].map((r) => ({ input_ids: slice(b.input_ids, r, r + 2), labels: slice(b.labels, r, r + 2) }));
    const a = await whole.run(b, 1e-2);
    const m = await micro.runAccumulated(halves, 1e-2);
    assert.equal(m.step, s);
    assert.ok(Math.abs(a.loss - m.loss) < 1e-5, `loss ${a.loss} vs ${m.loss}`);
    assert.ok(Math.abs(a.gradNorm - m.gradNorm) < 1e-4, `grad norm ${a.gradNorm} vs ${m.gradNorm}`);
  }
  for (const name of whole.trainableNames) {
    const p = whole.params.get(name).data as Float32Array,
      q = micro.params.get(name).data as Float32Array;
    p.forEach((v, i) => assert.ok(Math.abs(v - q[i]!) < 1e-5, `${name}[${i}]: ${v} vs ${q[i]}`));
  }
});

test('the trainer with accumulate: 3 reads three batches a step and resumes exactly', async () => {
  const over = { evalData: undefined, accumulate: 3, checkpoint: { every: 3, keep: 2 } };
  const refDir = tmp();
  await (await Trainer.create(tinyOptions(refDir, 6, over))).run();
  assert.deepEqual(loadCheckpoint(join(refDir, 'ckpt-6')).manifest.cursor, { seed: 7, index: 18 });

  const dir = tmp();
  const crash = await Trainer.create(
    tinyOptions(dir, 6, {
      ...over,
      onEvent: (e) => {
        if (e.type === 'step' && e.record.step === 4) throw new Error('crash');
      },
    }),
  );
  await assert.rejects(crash.run());
  const resumed = await Trainer.create(tinyOptions(dir, 6, over));
  assert.equal(await resumed.resume(), 3);
  await resumed.run();
  const losses = (d: string) =>
    MetricsLog.read(join(d, 'metrics.jsonl'))
      .filter((r) => r.type === 'step')
      .map((r) => r.loss);
  assert.deepEqual(losses(dir), losses(refDir));
});
