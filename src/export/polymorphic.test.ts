import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { add, constant, input, matmul, ndarray, reshape, slice, type Tensor } from '../graph/index.ts';
import { encodeModel } from '../onnx/index.ts';
import { lowerPolymorphic, type PolymorphicSpec, type SymbolicDim } from './polymorphic.ts';

const dims: SymbolicDim[] = [
  { name: 'n', from: { input: 'x', axis: 0 } },
  { name: 'm', from: { input: 'x', axis: 1 } },
];
const bindings = [
  { n: 2, m: 3 },
  { n: 4, m: 3 },
  { n: 2, m: 5 },
  { n: 3, m: 7 },
];
const w = constant(ndarray([4, 2], 'float32', [1, 2, 3, 4, 5, 6, 7, 8]));

function spec(
  trace: (s: Record<string, number>) => Record<string, Tensor>,
  io: PolymorphicSpec['io'],
): PolymorphicSpec {
  return { dims, bindings, trace, io, lower: { contribOps: false } };
}

test('sizes written as numbers at trace time become expressions of the input dims', async () => {
  // (n, m, 4) → (n·m, 4) @ (4, 2) → (n, m, 2), then the last m − 1 rows: products and offsets of dims.
  const s = spec(
    ({ n, m }) => {
      const x = input('x', [n!, m!, 4]);
      const y = reshape(matmul(reshape(x, [n! * m!, 4]), w), [n!, m!, 2]);
      return { y: add(slice(y, 1, 1), 1) };
    },
    { x: ['n', 'm', null], y: ['n', 'rest', null] },
  );
  const model = lowerPolymorphic(s).model;
  const session = await ort.InferenceSession.create(encodeModel(model));
  for (const [n, m] of [
    [1, 2],
    [5, 9],
  ] as const) {
    const data = Float32Array.from({ length: n * m * 4 }, (_, i) => i % 7);
    const y = (await session.run({ x: new ort.Tensor('float32', data, [n, m, 4]) })).y!;
    assert.deepEqual(y.dims, [n, m - 1, 2]);
    const want = (b: number, r: number, c: number) =>
      1 + [0, 1, 2, 3].reduce((acc, k) => acc + data[(b * m + r) * 4 + k]! * (2 * k + c + 1), 0);
    assert.equal((y.data as Float32Array)[((n - 1) * (m - 1) + (m - 2)) * 2 + 1], want(n - 1, m - 1, 1));
  }
});

test('a size-dependent constant that is not a shape fails, naming the node', () => {
  const s = spec(
    ({ n, m }) => {
      const x = input('x', [n!, m!]);
      return {
        y: add(
          x,
          constant(
            ndarray(
              [m!],
              'float32',
              Array.from({ length: m! }, (_, i) => i),
            ),
          ),
        ),
      };
    },
    { x: ['n', 'm'], y: ['n', 'm'] },
  );
  assert.throws(() => lowerPolymorphic(s), /node 0 \(Add.*changes with the sizes/);
});

test('a size that is no product of dims fails with the values it saw', () => {
  const s = spec(
    ({ n, m }) => {
      const x = input('x', [n!, m!]);
      return { y: slice(x, 1, 0, Math.floor(m! / 2)) };
    },
    { x: ['n', 'm'], y: ['n', null] },
  );
  assert.throws(() => lowerPolymorphic(s), /values \[1,1,2,3\].*no c·Π dim\^p \+ d/);
});

test('every graph input and output needs its dims listed', () => {
  const s = spec(({ n, m }) => ({ y: add(input('x', [n!, m!]), 1) }), { x: ['n', 'm'] });
  assert.throws(() => lowerPolymorphic(s), /output 'y' has no entry in io/);
});

test('io dims are checked against the traced shapes', () => {
  const s = spec(({ n, m }) => ({ y: add(input('x', [n!, m!]), 1) }), { x: ['m', 'n'], y: ['n', 'm'] });
  assert.throws(() => lowerPolymorphic(s), /input 'x' dim 0 is 2 at binding 0, but io names it 'm' \(3\)/);
});
