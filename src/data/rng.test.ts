import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from './rng.ts';

test('the same seed gives the same stream; another seed another', () => {
  const a = mulberry32(42),
    b = mulberry32(42),
    c = mulberry32(43);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(
    Array.from({ length: 5 }, () => b.nextU32()),
    xs,
  );
  assert.notDeepEqual(
    Array.from({ length: 5 }, () => c.nextU32()),
    xs,
  );
});

test('nextInt stays in range and hits every value about equally', () => {
  const rng = mulberry32(7);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[rng.nextInt(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket count ${c} is far from 10000`);
  assert.throws(() => rng.nextInt(0), /n must be an integer in 1\.\.2\^32/);
  const f = rng.next();
  assert.ok(f >= 0 && f < 1);
});
