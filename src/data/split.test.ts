import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededShuffle, seededSplit } from './split.ts';

const items = Array.from({ length: 100 }, (_, i) => i);

test('seededShuffle is a deterministic permutation that leaves its input alone', () => {
  const a = seededShuffle(items, 1);
  assert.deepEqual(seededShuffle(items, 1), a);
  assert.notDeepEqual(seededShuffle(items, 2), a);
  assert.notDeepEqual(a, items);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    items,
  );
  assert.deepEqual(
    items,
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('seededSplit puts each item on exactly one side, in the asked proportion', () => {
  const { train, validation } = seededSplit(items, { validationFraction: 0.2, seed: 3 });
  assert.equal(validation.length, 20);
  assert.equal(train.length, 80);
  const seen = new Set([...train, ...validation]);
  assert.equal(seen.size, 100);
  assert.deepEqual(seededSplit(items, { validationFraction: 0.2, seed: 3 }).validation, validation);
  assert.throws(
    () => seededSplit(items, { validationFraction: 1.5, seed: 0 }),
    /validationFraction must be in \[0, 1\], got 1\.5/,
  );
});
