// Shape and dtype mistakes fail at trace time, on the line of model code that made them, with a
// ShapeError that names the op and what it was given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DType } from './dtype.ts';
import { ShapeError } from './shape.ts';
import { input, type Tensor } from './tensor.ts';
import { add, exp, logicalNot, mul, where } from './ops/elementwise.ts';
import { matmul } from './ops/matmul.ts';
import {
  crossEntropy,
  gather,
  layerNorm,
  oneHot,
  rmsNorm,
  scatterAddRows,
  softmax,
  takeAlongLastAxis,
} from './ops/nn.ts';
import { reduceSum } from './ops/reduce.ts';
import { concat, expand, pad, reshape, slice, split, swapAxes, transpose, unsqueeze } from './ops/shape-ops.ts';

const t = (shape: number[], dtype: DType = 'float32'): Tensor => input('t', shape, dtype);

/** Asserts `fn` throws a ShapeError whose message starts with `op:` and matches every pattern. */
function throwsShape(fn: () => unknown, op: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof ShapeError, `expected a ShapeError, got ${e.name}: ${e.message}`);
    assert.equal(e.name, 'ShapeError');
    assert.ok(e.message.startsWith(`${op}: `), `message should start with '${op}: ', got: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

test('matmul: inner dimensions, with and without transposes', () => {
  throwsShape(() => matmul(t([2, 3]), t([4, 5])), 'matmul', /\[2, 3\] @ \[4, 5\]/, /contracts 3 with 4/);
  throwsShape(
    () => matmul(t([2, 3]), t([3, 5]), { transB: true }),
    'matmul',
    /\[2, 3\] @ \[3, 5\]ᵀ/,
    /contracts 3 with 5/,
  );
  throwsShape(() => matmul(t([3, 2]), t([3, 5]), { transA: false }), 'matmul', /\[3, 2\] @ \[3, 5\]/);
});

test('matmul: rank, batch dims and dtype', () => {
  throwsShape(() => matmul(t([3]), t([3, 5])), 'matmul', /rank >= 2/, /\[3\] and \[3, 5\]/);
  throwsShape(() => matmul(t([2, 3, 4]), t([3, 4, 5])), 'matmul (batch dims)', /\[2\] and \[3\] do not broadcast/);
  throwsShape(() => matmul(t([2, 3]), t([3, 5], 'float64')), 'matmul', /float32 and float64/);
});

test('elementwise: non-broadcastable shapes and mixed dtypes', () => {
  throwsShape(() => add(t([2, 3]), t([4])), 'add', /\[2, 3\] and \[4\] do not broadcast/, /dimension 1 is 3 vs 4/);
  throwsShape(() => mul(t([2, 3, 4]), t([3, 5])), 'mul', /\[2, 3, 4\] and \[3, 5\]/);
  throwsShape(() => add(t([2, 3]), t([2, 3], 'int64')), 'add', /float32 and int64; cast one/);
  throwsShape(() => exp(t([2], 'int64')), 'exp', /needs a float tensor, got int64/);
  throwsShape(() => logicalNot(t([2])), 'logicalNot', /needs a bool tensor, got float32/);
});

test('where: condition dtype and broadcasting', () => {
  throwsShape(() => where(t([2]), t([2]), t([2])), 'where', /condition must be bool, got float32/);
  throwsShape(() => where(t([2], 'bool'), t([3]), t([2])), 'where', /\[3\] and \[2\] do not broadcast/);
  throwsShape(() => where(t([4], 'bool'), t([3]), t([3])), 'where', /\[4\] and \[3\] do not broadcast/);
});

test('reshape: element count, -1 inference and invalid dims', () => {
  throwsShape(() => reshape(t([2, 3]), [4, 2]), 'reshape', /\[2, 3\] \(6 elements\) to \[4, 2\] \(8 elements\)/);
  throwsShape(() => reshape(t([2, 3]), [4, -1]), 'reshape', /cannot infer -1 in \[4, -1\] for 6 elements of \[2, 3\]/);
  throwsShape(() => reshape(t([2, 3]), [-1, -1]), 'reshape', /only one dimension may be -1/);
  throwsShape(() => reshape(t([2, 3]), [-2, -3]), 'reshape', /\[-2, -3\] must hold non-negative integers/);
  throwsShape(() => reshape(t([2, 3]), [1.5, 4]), 'reshape', /\[1.5, 4\] must hold non-negative integers/);
});

test('concat: mismatched shapes, ranks, dtypes and axis', () => {
  throwsShape(() => concat([t([2, 3]), t([2, 4])], 0), 'concat', /\[2, 3\] and \[2, 4\] differ outside axis 0/);
  throwsShape(() => concat([t([2, 3]), t([2, 3]), t([2, 3, 1])], 1), 'concat', /\[2, 3\] and \[2, 3, 1\]/);
  throwsShape(() => concat([t([2, 3]), t([2, 3], 'int64')], 0), 'concat', /float32 and int64/);
  throwsShape(() => concat([t([2, 3]), t([2, 3])], 2), 'concat', /axis 2 is out of range .* rank 2/);
  throwsShape(() => concat([], 0), 'concat', /at least one/);
});

test('gather, takeAlongLastAxis, scatterAddRows, oneHot: index dtypes and shapes', () => {
  throwsShape(
    () => takeAlongLastAxis(t([4, 7]), t([3, 2], 'int64')),
    'takeAlongLastAxis',
    /ids \[3, 2\] must match x \[4, 7\]/,
  );
  throwsShape(() => takeAlongLastAxis(t([4, 7]), t([4, 2])), 'takeAlongLastAxis', /int64 or int32, got float32/);
  throwsShape(() => gather(t([5, 3]), t([2])), 'gather', /indices must be int64 or int32, got float32/);
  throwsShape(() => gather(t([]), t([2], 'int64')), 'gather', /rank >= 1/);
  throwsShape(
    () => scatterAddRows(t([2, 3], 'int64'), t([3, 2]), 5),
    'scatterAddRows',
    /updates \[3, 2\] must start with the ids' shape \[2, 3\]/,
  );
  throwsShape(() => scatterAddRows(t([2]), t([2, 4]), 5), 'scatterAddRows', /got float32/);
  throwsShape(() => oneHot(t([2]), 3), 'oneHot', /got float32/);
});

test('crossEntropy: label shape and dtype, in the shapes the caller passed', () => {
  throwsShape(
    () => crossEntropy(t([2, 3, 4]), t([2, 4], 'int64')),
    'crossEntropy',
    /labels \[2, 4\] .* logits \[2, 3, 4\]/,
  );
  throwsShape(() => crossEntropy(t([2, 3]), t([3], 'int64')), 'crossEntropy', /labels \[3\] .* logits \[2, 3\]/);
  throwsShape(() => crossEntropy(t([2, 3]), t([2], 'int32')), 'crossEntropy', /labels must be int64, got int32/);
  throwsShape(
    () => crossEntropy(t([2, 3], 'int64'), t([2], 'int64')),
    'crossEntropy',
    /needs a float tensor, got int64/,
  );
});

test('normalizations: weight and bias must match the last axis', () => {
  throwsShape(
    () => layerNorm(t([2, 3]), t([4])),
    'layerNorm',
    /shape \[3\] to match the last axis of \[2, 3\], got \[4\]/,
  );
  throwsShape(() => layerNorm(t([2, 3]), t([3]), t([2])), 'layerNorm', /got \[2\]/);
  throwsShape(() => rmsNorm(t([2, 3]), t([3, 1])), 'rmsNorm', /got \[3, 1\]/);
  throwsShape(() => softmax(t([2, 3], 'int64')), 'softmax', /needs a float tensor/);
});

test('axes out of range name the op and the rank', () => {
  throwsShape(() => reduceSum(t([2, 3]), 2), 'reduceSum', /axis 2 is out of range for a tensor of rank 2/);
  throwsShape(() => softmax(t([2, 3]), -3), 'softmax', /axis -3 .* rank 2/);
  throwsShape(() => slice(t([2, 3]), 2, 0, 1), 'slice', /axis 2 .* rank 2/);
  throwsShape(() => swapAxes(t([2, 3]), 0, 4), 'swapAxes', /axis 4/);
  throwsShape(
    () => unsqueeze(t([2, 3]), 3),
    'unsqueeze',
    /axis 3 is out of range for inserting into \[2, 3\] \(use -3..2\)/,
  );
  throwsShape(() => unsqueeze(t([2, 3]), -4), 'unsqueeze', /axis -4/);
  assert.deepEqual(unsqueeze(t([2, 3]), 2).shape, [2, 3, 1]);
  assert.deepEqual(unsqueeze(t([2, 3]), -1).shape, [2, 3, 1]);
  assert.deepEqual(unsqueeze(t([2, 3]), -3).shape, [1, 2, 3]);
});

test('transpose, split, pad, expand: bad arguments name the shapes', () => {
  throwsShape(
    () => transpose(t([2, 3]), [0, 0]),
    'transpose',
    /perm \[0, 0\] is not a permutation of the 2 axes of \[2, 3\]/,
  );
  throwsShape(() => transpose(t([2, 3, 4]), [1, 0]), 'transpose', /\[1, 0\] .* \[2, 3, 4\]/);
  throwsShape(() => split(t([2, 3]), 1, 2), 'split', /dimension 1 of size 3/);
  throwsShape(() => split(t([2, 3]), 1, [1, 1]), 'split', /sizes \[1, 1\]/);
  throwsShape(() => pad(t([2, 3]), [1], [1]), 'pad', /2 non-negative numbers each side, got \[1\] \/ \[1\]/);
  throwsShape(() => pad(t([2, 3]), [0, -1], [0, 0]), 'pad', /non-negative/);
  throwsShape(() => expand(t([2, 3]), [4, 3]), 'expand', /\[2, 3\] and \[4, 3\] do not broadcast/);
  throwsShape(() => expand(t([2, 3]), [3]), 'expand', /cannot expand \[2, 3\] to \[3\]/);
  throwsShape(() => expand(t([1, 3]), [-1, 3]), 'expand', /\[-1, 3\] must hold non-negative integers/);
});

test('a transpose that moves only size-1 axes is a reshape, and reshape chains collapse', () => {
  const x = input('x', [2, 1, 4, 8]);
  const t = swapAxes(x, 1, 2); // (2, 4, 1, 8): the 4 and 8 keep their order
  assert.equal(t.opName, 'reshape');
  assert.deepEqual(t.shape, [2, 4, 1, 8]);
  assert.equal(transpose(x, [0, 3, 1, 2]).opName, 'transpose', 'moving a non-unit axis past another stays a transpose');
  const r = reshape(reshape(x, [8, 8]), [64]);
  assert.equal(r.inputs[0], x, 'reshape of a reshape reads the original');
  assert.equal(reshape(reshape(x, [8, 8]), [2, 1, 4, 8]), x, 'back to the original shape: no node at all');
});
