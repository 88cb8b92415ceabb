// The op case table itself: every op has cases, every case exercises the op it names, and builds
// stay dtype-generic so the float64 gradient checks can rerun them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allOps } from '../registry.ts';
import { input, topoSort, type Tensor } from '../tensor.ts';
import { isFloat } from '../dtype.ts';
import { opCases, sampleInput, type OpCase } from './cases.ts';

function buildCase(c: OpCase, floatDtype: 'float32' | 'float64'): Tensor {
  const xs = c.inputs.map((s, i) => input(`x${i}`, s.shape, isFloat(s.dtype) ? floatDtype : s.dtype));
  return c.build(...xs);
}

test('every op in allOps has at least one case', () => {
  const covered = new Set(opCases.map((c) => c.op));
  const missing = Object.keys(allOps).filter((k) => !covered.has(k));
  assert.deepEqual(missing, [], `ops without a case in src/graph/ops/cases.ts: ${missing.join(', ')}`);
  const unknown = [...covered].filter((k) => !(k in allOps));
  assert.deepEqual(unknown, [], `cases name ops that allOps does not have: ${unknown.join(', ')}`);
});

test('case names are unique within their op', () => {
  const seen = new Set<string>();
  for (const c of opCases) {
    const key = `${c.op}: ${c.name}`;
    assert.ok(!seen.has(key), `duplicate case '${key}'`);
    seen.add(key);
  }
});

test('each case builds a graph that contains the op it names', () => {
  for (const c of opCases) {
    const out = buildCase(c, 'float32');
    const ops = new Set(topoSort([out]).map((t) => t.def));
    assert.ok(
      ops.has(allOps[c.op]!),
      `case '${c.op}: ${c.name}' builds no '${c.op}' node (it has ${[...ops]
        .filter(Boolean)
        .map((d) => d!.name)
        .join(', ')})`,
    );
  }
});

test('builds are dtype-generic: float64 inputs give a float64 output wherever float32 inputs give float32', () => {
  for (const c of opCases) {
    const out32 = buildCase(c, 'float32');
    const out64 = buildCase(c, 'float64');
    assert.deepEqual(out64.shape, out32.shape, `${c.op}: ${c.name}`);
    const hasFloatInput = c.inputs.some((s) => isFloat(s.dtype));
    if (out32.dtype === 'float32' && hasFloatInput) assert.equal(out64.dtype, 'float64', `${c.op}: ${c.name}`);
  }
});

test('sampleInput draws each kind in its range', () => {
  let s = 1;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const floats = sampleInput({ shape: [200], dtype: 'float32', kind: 'float' }, rand);
  assert.ok(floats.every((v) => Math.abs(v) >= 0.1 && Math.abs(v) <= 2) && floats.some((v) => v < 0));
  assert.ok(sampleInput({ shape: [200], dtype: 'float32', kind: 'positive' }, rand).every((v) => v >= 0.5 && v <= 2));
  const ids = sampleInput({ shape: [200], dtype: 'int64', kind: 'ids', max: 7 }, rand);
  assert.ok(ids.every((v) => Number.isInteger(v) && v >= 0 && v < 7) && new Set(ids).size === 7);
  const labels = sampleInput({ shape: [30], dtype: 'int64', kind: 'labels', max: 3 }, rand);
  assert.notEqual(labels[0], -100);
  assert.equal(labels[1], -100);
  assert.ok(labels.every((v) => v === -100 || (v >= 0 && v < 3)));
  assert.deepEqual(new Set(sampleInput({ shape: [50], dtype: 'bool', kind: 'bool' }, rand)), new Set([0, 1]));
});
