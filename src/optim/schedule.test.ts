import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lrAt } from './schedule.ts';

test('warmup rises linearly to the peak', () => {
  const s = { lr: 1e-3, warmupSteps: 10, totalSteps: 100 };
  assert.equal(lrAt(s, 0), 1e-4);
  assert.ok(Math.abs(lrAt(s, 9) - 1e-3) < 1e-12);
});

test('cosine decays from the peak to lr·minLrRatio', () => {
  const s = { lr: 1e-3, warmupSteps: 0, totalSteps: 100, minLrRatio: 0.1 };
  assert.equal(lrAt(s, 0), 1e-3);
  assert.ok(Math.abs(lrAt(s, 50) - 0.55e-3) < 1e-12);
  assert.ok(Math.abs(lrAt(s, 100) - 1e-4) < 1e-12);
  assert.ok(Math.abs(lrAt(s, 500) - 1e-4) < 1e-12);
});

test('linear and constant decay', () => {
  assert.ok(Math.abs(lrAt({ lr: 1, totalSteps: 10, decay: 'linear', minLrRatio: 0 }, 5) - 0.5) < 1e-12);
  assert.equal(lrAt({ lr: 1, totalSteps: 10, decay: 'constant' }, 7), 1);
});

test('a bad schedule is refused with a readable message', () => {
  assert.throws(() => lrAt({ lr: -1, totalSteps: 10 }, 0), /lr must be a positive number/);
});
