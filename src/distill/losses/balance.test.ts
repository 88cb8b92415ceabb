// Weight schedules, the auto-balancer's running means, and combineLosses with weights fed as
// scalar inputs: one compiled program serves every step's weights.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { input } from '../../graph/index.ts';
import { ReferenceExecutor } from '../../runtime/reference.ts';
import { toNumbers } from '../../runtime/host.ts';
import { combineLosses, LossBalancer, lossWeightInputs, scheduleAt } from './balance.ts';
import { assertClose, f64 } from './testing.ts';

test('schedules: constant, and a linear ramp held flat outside its steps', () => {
  assert.equal(scheduleAt(0.3, 999), 0.3);
  assert.equal(scheduleAt({ kind: 'constant', value: 2 }, 5), 2);
  const ramp = { kind: 'linear' as const, from: 0, to: 1, startStep: 100, endStep: 200 };
  assert.deepEqual(
    [0, 100, 150, 175, 200, 1000].map((s) => scheduleAt(ramp, s)),
    [0, 0, 0.5, 0.75, 1, 1],
  );
  assert.equal(scheduleAt({ kind: 'linear', from: 1, to: 0.5, endStep: 10 }, 4), 0.8);
  assert.throws(
    () => scheduleAt({ kind: 'linear', from: 0, to: 1, startStep: 5, endStep: 2 }, 0),
    /endStep must be ≥ startStep/,
  );
});

test('fixed mode reports the schedule; auto divides by the bias-corrected running mean of |value|', () => {
  const fixed = new LossBalancer({ weights: { kd: 1, hidden: { kind: 'linear', from: 0, to: 2, endStep: 10 } } });
  fixed.observe({ kd: 5, hidden: 100 });
  assert.deepEqual(fixed.weightsAt(5), { kd: 1, hidden: 1 });

  const auto = new LossBalancer({ weights: { kd: 1, hidden: 0.5 }, mode: 'auto', emaDecay: 0.9 });
  assert.deepEqual(auto.weightsAt(0), { kd: 1, hidden: 0.5 }, 'before any observation the schedule is used as is');
  auto.observe({ kd: 2, hidden: -40 });
  // After one value, the bias-corrected mean is that |value| itself.
  assert.deepEqual(auto.weightsAt(1), { kd: 1 / 2, hidden: 0.5 / 40 });
  auto.observe({ kd: 4, hidden: NaN });
  // ema = 0.9·(0.1·2) + 0.1·4 = 0.58, corrected by 1 − 0.9² = 0.19; NaN is skipped.
  const w = auto.weightsAt(2);
  assertClose(w.kd!, 1 / (0.58 / 0.19), 1e-14, 'kd weight');
  assert.equal(w.hidden, 0.5 / 40);
  const r = auto.report(2);
  assertClose(r.runningMean.kd!, 0.58 / 0.19, 1e-14, 'kd mean');
  assert.deepEqual(Object.keys(auto.feeds(2)), ['loss.weight.kd', 'loss.weight.hidden']);
});

test('combineLosses: total = Σ w·term with weights fed per step, and one program for all steps', async () => {
  const a = input('a', [], 'float64'),
    b = input('b', [], 'float64');
  const terms = { kd: a, hidden: b };
  const { total, terms: t, weighted } = combineLosses(terms, lossWeightInputs(Object.keys(terms), 'float64'));
  assert.equal(t.kd, a);
  const prog = await new ReferenceExecutor().compile({ total, kd: t.kd!, wkd: weighted.kd! });
  assert.deepEqual(prog.inputs.map((s) => s.name).sort(), ['a', 'b', 'loss.weight.hidden', 'loss.weight.kd']);
  const balancer = new LossBalancer({ weights: { kd: { kind: 'linear', from: 1, to: 0, endStep: 4 }, hidden: 2 } });
  for (const step of [0, 2, 4]) {
    const out = await prog.run({ a: f64([], [3]), b: f64([], [5]), ...balancer.feeds(step, 'float64') });
    const wkd = 1 - step / 4;
    assertClose(toNumbers(out.total!)[0]!, wkd * 3 + 2 * 5, 1e-15, `step ${step}`);
    assertClose(toNumbers(out.wkd!)[0]!, wkd * 3, 1e-15, `weighted kd at ${step}`);
  }
});

test('combineLosses names missing weights and terms', () => {
  const a = input('a', []),
    b = input('b', []);
  assert.throws(
    () => combineLosses({ kd: a, ce: b }, lossWeightInputs(['kd', 'extra'])),
    /no weight for ce .*; no term for weight\(s\) extra/,
  );
  assert.throws(
    () => combineLosses({ kd: input('v', [2]) }, lossWeightInputs(['kd'])),
    /term 'kd' has shape \[2\]; reduce it to a scalar/,
  );
  assert.throws(() => combineLosses({}, {}), /no loss terms/);
});
