import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenBatches } from './token-batches.ts';

// ids[i] = i, so a window's first input names its offset.
const ids = Int32Array.from({ length: 1000 }, (_, i) => i);

test('targets are the inputs shifted by one, and rows are windows of the stream', () => {
  const batches = [...tokenBatches(ids, { batch: 4, ctx: 16, seed: 1, steps: 50 })];
  assert.equal(batches.length, 50);
  for (const { inputs, targets } of batches) {
    assert.equal(inputs.length, 4 * 16);
    assert.equal(targets.length, 4 * 16);
    for (let b = 0; b < 4; b++) {
      const start = inputs[b * 16]!;
      assert.ok(start >= 0 && start + 16 < ids.length, `offset ${start} leaves room for the last target`);
      for (let t = 0; t < 16; t++) {
        assert.equal(inputs[b * 16 + t], start + t);
        assert.equal(targets[b * 16 + t], start + t + 1);
      }
    }
  }
});

test('the same seed gives the same batches; offsets reach both ends of the stream', () => {
  const take = (seed: number) => [...tokenBatches(ids, { batch: 8, ctx: 10, seed, steps: 400 })];
  const a = take(5);
  assert.deepEqual(take(5), a);
  assert.notDeepEqual(take(6)[0]!.inputs, a[0]!.inputs);
  const starts = a.flatMap((x) => Array.from({ length: 8 }, (_, b) => x.inputs[b * 10]!));
  assert.ok(Math.min(...starts) < 20 && Math.max(...starts) > 970, 'offsets should cover the stream');
  const tiny = Int32Array.from([0, 1, 2]);
  const [only] = [...tokenBatches(tiny, { batch: 1, ctx: 2, seed: 0, steps: 1 })];
  assert.deepEqual(Array.from(only!.inputs), [0, 1]);
  assert.deepEqual(Array.from(only!.targets), [1, 2]);
});

test('a stream shorter than one window is refused with the numbers', () => {
  assert.throws(
    () => tokenBatches(Int32Array.from([1, 2]), { batch: 1, ctx: 2, seed: 0 }).next(),
    /ids has 2 tokens but one window needs ctx \+ 1 = 3/,
  );
});
