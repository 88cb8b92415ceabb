import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  decodeModel, encodeModel, OnnxDataType, tensorToTypedArray, typedArrayToTensor,
  type OnnxGraph, type OnnxModel,
} from './index.ts';
import { ModelProto } from './schema.ts';

const OPSET = [{ domain: '', version: 17 }];

// X (B, 3) @ W (3, 4) + B (4), then Relu / LeakyRelu / ReduceMax / Concat, plus a ConstantOfShape
// whose value is a tensor attribute. Every attribute differs from the op's default, so one that is
// lost or mis-typed on the wire changes an output. (ReduceMax still takes `axes` as an attribute in opset 17.)
const W = [0.5, -1, 2, 0, 1, 0.25, -0.5, 3, -2, 1, 1, -1]; // (3, 4) row-major
const B = [0.1, -0.2, 0.3, -4];

function mlpModel(): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: OPSET,
    producerName: 'retort-test',
    graph: {
      name: 'mlp',
      initializers: [
        typedArrayToTensor('W', [3, 4], new Float32Array(W)),
        typedArrayToTensor('B', [4], new Float32Array(B)),
        typedArrayToTensor('fill_shape', [2], new BigInt64Array([2n, 3n])),
      ],
      nodes: [
        { opType: 'MatMul', name: 'mm', inputs: ['X', 'W'], outputs: ['XW'], attributes: [] },
        { opType: 'Add', inputs: ['XW', 'B'], outputs: ['Z'], attributes: [] },
        { opType: 'Relu', inputs: ['Z'], outputs: ['Y'], attributes: [] },
        { opType: 'LeakyRelu', inputs: ['Z'], outputs: ['L'], attributes: [{ name: 'alpha', type: 'float', value: 0.25 }] },
        {
          opType: 'ReduceMax', inputs: ['Z'], outputs: ['M'],
          attributes: [{ name: 'axes', type: 'ints', value: [1] }, { name: 'keepdims', type: 'int', value: 0 }],
        },
        { opType: 'Concat', inputs: ['Y', 'L'], outputs: ['K'], attributes: [{ name: 'axis', type: 'int', value: 1 }] },
        {
          opType: 'ConstantOfShape', inputs: ['fill_shape'], outputs: ['C'],
          attributes: [{ name: 'value', type: 'tensor', value: typedArrayToTensor('', [1], new Float32Array([7.5])) }],
        },
      ],
      inputs: [{ name: 'X', elemType: OnnxDataType.FLOAT, shape: ['batch', 3] }],
      outputs: [
        { name: 'Y', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] },
        { name: 'L', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] },
        { name: 'M', elemType: OnnxDataType.FLOAT, shape: ['batch'] },
        { name: 'K', elemType: OnnxDataType.FLOAT, shape: ['batch', 8] },
        { name: 'C', elemType: OnnxDataType.FLOAT, shape: [2, 3] },
      ],
    },
  };
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-5, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

test('an encoded model runs in onnxruntime and matches a hand computation', async () => {
  const X = [1, 2, 3, -1, 0.5, -2]; // (2, 3)
  const z: number[][] = [0, 1].map((b) =>
    [0, 1, 2, 3].map((j) => B[j]! + [0, 1, 2].reduce((s, k) => s + X[b * 3 + k]! * W[k * 4 + j]!, 0)));
  const y = z.map((row) => row.map((v) => Math.max(v, 0)));
  const l = z.map((row) => row.map((v) => (v > 0 ? v : 0.25 * v)));
  assert.ok(z.flat().some((v) => v < 0) && z.flat().some((v) => v > 0), 'inputs should exercise both Relu branches');

  const session = await ort.InferenceSession.create(encodeModel(mlpModel()));
  const out = await session.run({ X: new ort.Tensor('float32', new Float32Array(X), [2, 3]) });

  assertClose(out.Y!.data as Float32Array, y.flat(), 'Y');
  assertClose(out.L!.data as Float32Array, l.flat(), 'L');
  assert.deepEqual(out.M!.dims, [2]);
  assertClose(out.M!.data as Float32Array, z.map((row) => Math.max(...row)), 'M');
  assertClose(out.K!.data as Float32Array, [0, 1].flatMap((b) => [...y[b]!, ...l[b]!]), 'K');
  assert.deepEqual(out.C!.dims, [2, 3]);
  assertClose(out.C!.data as Float32Array, Array(6).fill(7.5), 'C');
});

test('decode(encode(m)) gives back m, every attribute kind included', () => {
  const body: OnnxGraph = {
    name: 'then_body',
    nodes: [{ opType: 'Identity', inputs: ['k'], outputs: ['o'], attributes: [] }],
    initializers: [typedArrayToTensor('k', [], new Float64Array([2.5]))],
    inputs: [],
    outputs: [{ name: 'o', elemType: OnnxDataType.DOUBLE, shape: [] }],
  };
  const m = mlpModel();
  m.producerVersion = '0.1.0';
  m.metadata = { student: 'tiny', 'teacher.layers': '24' };
  m.opsetImports = [...OPSET, { domain: 'com.microsoft', version: 1 }];
  m.graph.valueInfo = [{ name: 'Z', elemType: OnnxDataType.FLOAT, shape: [null, 4] }];
  m.graph.outputs.push({ name: 'nothing_known', elemType: OnnxDataType.INT64, shape: null });
  m.graph.initializers.push(
    typedArrayToTensor('half', [2, 2], new Uint16Array([0x3c00, 0xc000, 0x7bff, 0]), OnnxDataType.FLOAT16),
    typedArrayToTensor('mask', [3], new Uint8Array([1, 0, 1]), OnnxDataType.BOOL),
    typedArrayToTensor('empty', [0, 5], new Float32Array(0)),
  );
  m.graph.nodes.push({
    opType: 'Custom', domain: 'com.microsoft', inputs: ['X', '', 'B'], outputs: ['o1', 'o2'],
    attributes: [
      { name: 's', type: 'string', value: 'héllo' },
      { name: 'ss', type: 'strings', value: ['a', '', 'ü'] },
      { name: 'fs', type: 'floats', value: [0.5, -2, 2 ** 100] }, // exactly representable in float32
      // 2^63 and -2^63 stand for INT64_MAX / INT64_MIN: they must survive the trip.
      { name: 'is', type: 'ints', value: [0, -1, 2 ** 53 - 1, 2 ** 63, -(2 ** 63)] },
      { name: 'g', type: 'graph', value: body },
      { name: 'empty_ints', type: 'ints', value: [] },
    ],
  });

  const decoded = decodeModel(encodeModel(m));
  assert.deepStrictEqual(decoded, m);
  assert.deepStrictEqual(tensorToTypedArray(decoded.graph.initializers[0]!), new Float32Array(W));
});

test('truncated or garbage bytes are refused as not a valid ONNX model', () => {
  const bytes = encodeModel(mlpModel());
  const cuts = new Set([0, 1, 2, bytes.length - 1]);
  for (let n = 3; n < bytes.length; n += 7) cuts.add(n);
  for (const n of cuts) {
    assert.throws(() => decodeModel(bytes.subarray(0, n)), /not a valid ONNX model/, `cut at ${n} of ${bytes.length}`);
  }
  let seed = 12345; // deterministic garbage
  const garbage = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  assert.throws(() => decodeModel(garbage), /not a valid ONNX model/);
  assert.throws(() => decodeModel(new TextEncoder().encode('{"not": "onnx"}')), /not a valid ONNX model/);
});

// A model written the way PyTorch and the onnx helpers sometimes do: typed fields instead of raw_data.
function handEncoded(initializer: object): Uint8Array {
  return ModelProto.encode({
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    graph: { name: 'g', initializer: [initializer], output: [] },
  }).finish();
}

test('initializers stored in float_data / int32_data / int64_data / double_data decode to the same values', () => {
  const cases = [
    { tensor: { name: 'f', data_type: OnnxDataType.FLOAT, dims: [2, 2], float_data: [1.5, -2, 0.1, 3e38] }, want: new Float32Array([1.5, -2, 0.1, 3e38]) },
    { tensor: { name: 'd', data_type: OnnxDataType.DOUBLE, dims: [2], double_data: [0.1, -1e300] }, want: new Float64Array([0.1, -1e300]) },
    { tensor: { name: 'i', data_type: OnnxDataType.INT64, dims: [3], int64_data: [1, -2, 2 ** 40] }, want: new BigInt64Array([1n, -2n, 2n ** 40n]) },
    { tensor: { name: 'h', data_type: OnnxDataType.FLOAT16, dims: [2], int32_data: [0x3c00, 0xc000] }, want: new Uint16Array([0x3c00, 0xc000]) },
    { tensor: { name: 'b', data_type: OnnxDataType.INT8, dims: [2], int32_data: [-128, 127] }, want: new Int8Array([-128, 127]) },
  ];
  for (const { tensor, want } of cases) {
    const [decoded] = decodeModel(handEncoded(tensor)).graph.initializers;
    assert.ok(decoded, tensor.name);
    assert.deepEqual(decoded.dims, tensor.dims);
    assert.deepStrictEqual(tensorToTypedArray(decoded), want, tensor.name);
  }
  assert.throws(
    () => decodeModel(handEncoded({ name: 'f', data_type: OnnxDataType.FLOAT, dims: [3], float_data: [1, 2] })),
    /not a valid ONNX model: tensor 'f' holds 8 bytes .* need 12/,
  );
});

test('external data is refused by tensor name', () => {
  const bytes = handEncoded({
    name: 'model.embed.weight', data_type: OnnxDataType.FLOAT, dims: [4],
    data_location: 1, external_data: [{ key: 'location', value: 'model.onnx.data' }],
  });
  assert.throws(() => decodeModel(bytes), /tensor 'model\.embed\.weight'.*'model\.onnx\.data'.*external data is not supported/);
});

test('large initializers encode with one copy and decode as views', () => {
  const n = 50 * 1024 * 1024; // 200 MB of float32
  const w = new Float32Array(n);
  w[n - 1] = 42;
  const model: OnnxModel = {
    irVersion: 8, opsetImports: OPSET,
    graph: { name: 'big', nodes: [], initializers: [typedArrayToTensor('w', [n], w)], inputs: [], outputs: [] },
  };
  const start = performance.now();
  const bytes = encodeModel(model);
  const ms = performance.now() - start;
  // ~0.3 s here; a quadratic or doubling-and-shifting encoder takes several times that.
  assert.ok(ms < 3000, `encoding 200 MB took ${ms.toFixed(0)} ms`);
  assert.ok(bytes.byteLength < 4 * n + 100);
  const t = decodeModel(bytes).graph.initializers[0]!;
  assert.equal(t.rawData.buffer, bytes.buffer, 'raw_data should be a view into the file bytes');
  assert.equal(tensorToTypedArray(t)[n - 1], 42);
});

test('typedArrayToTensor checks sizes and tensorToTypedArray copes with unaligned bytes', () => {
  assert.throws(() => typedArrayToTensor('w', [2, 2], new Float32Array(3)), /tensor 'w': dims \[2,2\] hold 4 elements, array has 3/);
  assert.throws(() => typedArrayToTensor('h', [1], new Uint8Array(1), OnnxDataType.FLOAT16), /FLOAT16 needs 2-byte elements/);
  const backing = new Uint8Array(9);
  backing.set(new Uint8Array(new Float32Array([1.5, -3]).buffer), 1);
  const unaligned = { name: 'u', dataType: OnnxDataType.FLOAT, dims: [2], rawData: backing.subarray(1) };
  assert.deepStrictEqual(tensorToTypedArray(unaligned), new Float32Array([1.5, -3]));
});
