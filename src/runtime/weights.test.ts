import assert from 'node:assert/strict';
import { test } from 'node:test';
import { input, matmul, param } from '../graph/index.ts';
import { hostTensor } from './host.ts';
import { OrtExecutor } from './ort.ts';
import { bakedWeights, SHARE_WEIGHTS_ABOVE } from './weights.ts';

test("'auto' bakes weights up to SHARE_WEIGHTS_ABOVE and shares them above; 'shared' and 'baked' do as named", () => {
  const small = new Map([['w', hostTensor('float32', [4], new Float32Array(4))]]);
  const big = new Map([
    ['w', hostTensor('float32', [SHARE_WEIGHTS_ABOVE / 4 + 1], new Float32Array(SHARE_WEIGHTS_ABOVE / 4 + 1))],
  ]);
  assert.deepEqual([...bakedWeights(small, ['w'])!.keys()], ['w']);
  assert.equal(bakedWeights(big, ['w']), undefined);
  assert.equal(bakedWeights(small, ['w'], 'shared'), undefined);
  assert.equal(bakedWeights(big, ['w'], 'baked')!.get('w'), big.get('w')!.data, 'baked from the same array, no copy');
});

test('a weight fed as an input gives what the baked one gives, and no program keeps its model bytes', async () => {
  const x = input('x', [2, 3]);
  const w = param('w', [3, 2], { kind: 'zeros' });
  const ex = new OrtExecutor();
  const values = hostTensor('float32', [3, 2], new Float32Array([1, 2, 3, 4, 5, 6]));
  const xv = hostTensor('float32', [2, 3], new Float32Array([1, 0, -1, 2, 0.5, 0]));
  const fed = await ex.compile({ y: matmul(x, w) });
  const baked = await ex.compile({ y: matmul(x, w) }, { initializers: new Map([['w', values.data]]) });
  assert.deepEqual(
    fed.inputs.map((s) => s.name),
    ['x', 'w'],
  );
  const a = await fed.run({ x: xv, w: values });
  const b = await fed.run({ x: xv, w: values }); // the second run reuses the first's wrapper of the same arrays
  assert.deepEqual(a.y!.data, new Float32Array([-4, -4, 3.5, 6]));
  assert.deepEqual(b.y!.data, a.y!.data);
  assert.deepEqual((await baked.run({ x: xv })).y!.data, a.y!.data);
  for (const p of [fed, baked]) assert.equal('bytes' in p, false, 'the session holds what it needs');
});
