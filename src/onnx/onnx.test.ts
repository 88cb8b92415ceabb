import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import {
  decodeModel,
  encodeModel,
  OnnxDataType,
  tensorToTypedArray,
  typedArrayToTensor,
  type OnnxGraph,
  type OnnxModel,
  type OnnxTypedArray,
} from './index.ts';

const OPSET = [{ domain: '', version: 17 }];
const MS_OPSET = { domain: 'com.microsoft', version: 1 };

// X (B, 3) @ W (3, 4) + B (4), then Relu / LeakyRelu / ReduceMax / Concat, plus a ConstantOfShape
// whose value is a tensor attribute, and com.microsoft's FusedMatMul (alpha * X @ W), which only
// resolves if the node's domain arrives. Every attribute differs from the op's default, so one that is
// lost or mis-typed on the wire changes an output. (ReduceMax still takes `axes` as an attribute in opset 17.)
const W = [0.5, -1, 2, 0, 1, 0.25, -0.5, 3, -2, 1, 1, -1]; // (3, 4) row-major
const B = [0.1, -0.2, 0.3, -4];

function mlpModel(): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [...OPSET, MS_OPSET],
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
        {
          opType: 'LeakyRelu',
          inputs: ['Z'],
          outputs: ['L'],
          attributes: [{ name: 'alpha', type: 'float', value: 0.25 }],
        },
        {
          opType: 'ReduceMax',
          inputs: ['Z'],
          outputs: ['M'],
          attributes: [
            { name: 'axes', type: 'ints', value: [1] },
            { name: 'keepdims', type: 'int', value: 0 },
          ],
        },
        { opType: 'Concat', inputs: ['Y', 'L'], outputs: ['K'], attributes: [{ name: 'axis', type: 'int', value: 1 }] },
        {
          opType: 'FusedMatMul',
          domain: 'com.microsoft',
          inputs: ['X', 'W'],
          outputs: ['F'],
          attributes: [{ name: 'alpha', type: 'float', value: 2 }],
        },
        {
          opType: 'ConstantOfShape',
          inputs: ['fill_shape'],
          outputs: ['C'],
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
        { name: 'F', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] },
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
    [0, 1, 2, 3].map((j) => B[j]! + [0, 1, 2].reduce((s, k) => s + X[b * 3 + k]! * W[k * 4 + j]!, 0)),
  );
  const y = z.map((row) => row.map((v) => Math.max(v, 0)));
  const l = z.map((row) => row.map((v) => (v > 0 ? v : 0.25 * v)));
  assert.ok(z.flat().some((v) => v < 0) && z.flat().some((v) => v > 0), 'inputs should exercise both Relu branches');

  const session = await ort.InferenceSession.create(encodeModel(mlpModel()));
  // ORT's view of the declared input checks elem_type, dim_param and dim_value on the wire.
  assert.deepEqual(session.inputMetadata, [{ name: 'X', isTensor: true, type: 'float32', shape: ['batch', 3] }]);
  const out = await session.run({ X: new ort.Tensor('float32', new Float32Array(X), [2, 3]) });

  assertClose(out.Y!.data as Float32Array, y.flat(), 'Y');
  assertClose(out.L!.data as Float32Array, l.flat(), 'L');
  assert.deepEqual(out.M!.dims, [2]);
  assertClose(
    out.M!.data as Float32Array,
    z.map((row) => Math.max(...row)),
    'M',
  );
  assertClose(
    out.K!.data as Float32Array,
    [0, 1].flatMap((b) => [...y[b]!, ...l[b]!]),
    'K',
  );
  assert.deepEqual(out.C!.dims, [2, 3]);
  assertClose(out.C!.data as Float32Array, Array(6).fill(7.5), 'C');
  assertClose(
    out.F!.data as Float32Array,
    z.flat().map((v, i) => 2 * (v - B[i % 4]!)),
    'F',
  );
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
  m.graph.valueInfo = [{ name: 'Z', elemType: OnnxDataType.FLOAT, shape: [null, 4] }];
  m.graph.outputs.push({ name: 'nothing_known', elemType: OnnxDataType.INT64, shape: null });
  m.graph.initializers.push(
    typedArrayToTensor('half', [2, 2], new Uint16Array([0x3c00, 0xc000, 0x7bff, 0]), OnnxDataType.FLOAT16),
    typedArrayToTensor('mask', [3], new Uint8Array([1, 0, 1]), OnnxDataType.BOOL),
    typedArrayToTensor('empty', [0, 5], new Float32Array(0)),
  );
  m.graph.nodes.push({
    opType: 'Custom',
    domain: 'com.microsoft',
    inputs: ['X', '', 'B'],
    outputs: ['o1', 'o2'],
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
  const m = mlpModel();
  m.metadata = { a: '1', b: '2' }; // trailing fields a cut could silently drop, if written after the graph
  const bytes = encodeModel(m);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeModel(bytes.subarray(0, n)), /not a valid ONNX model/, `cut at ${n} of ${bytes.length}`);
  }
  let seed = 12345; // deterministic garbage
  const garbage = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  assert.throws(() => decodeModel(garbage), /not a valid ONNX model/);
  assert.throws(() => decodeModel(new TextEncoder().encode('{"not": "onnx"}')), /not a valid ONNX model/);
});

// Models written the way PyTorch and the onnx helpers sometimes do, with typed data fields instead of
// raw_data. The bytes are put together from onnx.proto's field numbers by hand, not through schema.ts,
// so a wrong field number there fails here (the other tests only check schema.ts against itself or ORT,
// and ORT never sees these fields from us).
type Build = (w: protobuf.Writer) => void;
const LEN = 2;
const message = (build: Build): Uint8Array => {
  const w = protobuf.Writer.create();
  build(w);
  return w.finish();
};
const sub = (w: protobuf.Writer, field: number, build: Build) => w.uint32((field << 3) | LEN).bytes(message(build));
const str = (w: protobuf.Writer, field: number, s: string) => w.uint32((field << 3) | LEN).string(s);
const varint = (w: protobuf.Writer, field: number, v: number) => w.uint32(field << 3).int64(v);
const packed = (w: protobuf.Writer, field: number, write: (w: protobuf.Writer) => void) => {
  w.uint32((field << 3) | LEN).fork();
  write(w);
  w.ldelim();
};

/** ModelProto{ir_version=1, opset_import=8, graph=7{name=2, initializer=5{dims=1, data_type=2, name=8, ...}}} */
function handEncoded(name: string, dataType: number, dims: number[], data: Build): Uint8Array {
  return message((m) => {
    varint(m, 1, 8);
    sub(m, 8, (o) => {
      str(o, 1, '');
      varint(o, 2, 17);
    });
    sub(m, 7, (g) => {
      str(g, 2, 'g');
      sub(g, 5, (t) => {
        for (const d of dims) varint(t, 1, d);
        varint(t, 2, dataType);
        str(t, 8, name);
        data(t);
      });
    });
  });
}

test('initializers stored in float_data / int32_data / int64_data / double_data / uint64_data decode to the same values', () => {
  const cases: { name: string; dataType: number; dims: number[]; data: Build; want: OnnxTypedArray }[] = [
    {
      name: 'f',
      dataType: OnnxDataType.FLOAT,
      dims: [2, 2],
      want: new Float32Array([1.5, -2, 0.1, 3e38]),
      data: (t) => packed(t, 4, (w) => [1.5, -2, 0.1, 3e38].forEach((v) => w.float(v))),
    },
    {
      name: 'd',
      dataType: OnnxDataType.DOUBLE,
      dims: [2],
      want: new Float64Array([0.1, -1e300]),
      data: (t) => packed(t, 10, (w) => [0.1, -1e300].forEach((v) => w.double(v))),
    },
    {
      name: 'i',
      dataType: OnnxDataType.INT64,
      dims: [3],
      want: new BigInt64Array([1n, -2n, 2n ** 40n]),
      data: (t) => packed(t, 7, (w) => [1, -2, 2 ** 40].forEach((v) => w.int64(v))),
    },
    {
      // unpacked repeated fields are legal too, and older writers produce them
      name: 'i_unpacked',
      dataType: OnnxDataType.INT64,
      dims: [2],
      want: new BigInt64Array([5n, -6n]),
      data: (t) => [5, -6].forEach((v) => varint(t, 7, v)),
    },
    {
      name: 'h',
      dataType: OnnxDataType.FLOAT16,
      dims: [2],
      want: new Uint16Array([0x3c00, 0xc000]),
      data: (t) => packed(t, 5, (w) => [0x3c00, 0xc000].forEach((v) => w.int32(v))),
    },
    {
      name: 'b',
      dataType: OnnxDataType.INT8,
      dims: [2],
      want: new Int8Array([-128, 127]),
      data: (t) => packed(t, 5, (w) => [-128, 127].forEach((v) => w.int32(v))),
    },
    {
      name: 'u',
      dataType: OnnxDataType.UINT32,
      dims: [2],
      want: new Uint32Array([0xffffffff, 7]),
      data: (t) => packed(t, 11, (w) => [0xffffffff, 7].forEach((v) => w.uint64(v))),
    },
    {
      name: 'r',
      dataType: OnnxDataType.FLOAT,
      dims: [1],
      want: new Float32Array([-0.5]),
      data: (t) => t.uint32((9 << 3) | LEN).bytes(new Uint8Array(new Float32Array([-0.5]).buffer)),
    },
  ];
  for (const { name, dataType, dims, data, want } of cases) {
    const [decoded] = decodeModel(handEncoded(name, dataType, dims, data)).graph.initializers;
    assert.ok(decoded, name);
    assert.deepEqual([decoded.name, decoded.dataType, decoded.dims], [name, dataType, dims]);
    assert.deepStrictEqual(tensorToTypedArray(decoded), want, name);
  }
  assert.throws(
    () => decodeModel(handEncoded('f', OnnxDataType.FLOAT, [3], (t) => packed(t, 4, (w) => w.float(1).float(2)))),
    /not a valid ONNX model: tensor 'f' holds 8 bytes .* need 12/,
  );
});

test('external data without a reader is refused by tensor name, pointing at readOnnxFile', () => {
  const bytes = handEncoded('model.embed.weight', OnnxDataType.FLOAT, [4], (t) => {
    sub(t, 13, (e) => {
      str(e, 1, 'location');
      str(e, 2, 'model.onnx.data');
    });
    varint(t, 14, 1); // data_location = EXTERNAL
  });
  assert.throws(() => decodeModel(bytes), /tensor 'model\.embed\.weight'.*'model\.onnx\.data'.*readOnnxFile/);
  // Hand-encoded from field numbers: external_data (13) and data_location (14) reach the reference.
  const ref = decodeModel(bytes, { externalData: 'reference' }).graph.initializers[0]!;
  assert.deepEqual(ref.external, { location: 'model.onnx.data', offset: 0, length: 16 });
  const flagOnly = handEncoded('w2', OnnxDataType.FLOAT, [4], (t) => varint(t, 14, 1));
  assert.throws(() => decodeModel(flagOnly), /tensor 'w2' is marked as external data but names no location/);
});

test('a whole model hand-written from onnx.proto field numbers decodes field by field', () => {
  const FIXED32 = 5;
  const valueInfo = (w: protobuf.Writer, field: number, name: string, elemType: number, dims: (number | string)[]) =>
    sub(w, field, (v) => {
      str(v, 1, name);
      sub(v, 2, (type) =>
        sub(type, 1, (tt) => {
          varint(tt, 1, elemType);
          sub(tt, 2, (shape) =>
            dims.forEach((d) => sub(shape, 1, (dim) => (typeof d === 'number' ? varint(dim, 1, d) : str(dim, 2, d)))),
          );
        }),
      );
    });
  const attr = (w: protobuf.Writer, name: string, type: number, value: Build) =>
    sub(w, 5, (a) => {
      str(a, 1, name);
      varint(a, 20, type);
      value(a);
    });
  const bytes = message((m) => {
    varint(m, 1, 9);
    str(m, 2, 'torch');
    str(m, 3, '2.4');
    sub(m, 8, (o) => {
      str(o, 1, 'com.microsoft');
      varint(o, 2, 1);
    });
    sub(m, 14, (e) => {
      str(e, 1, 'author');
      str(e, 2, 'me');
    });
    sub(m, 7, (g) => {
      sub(g, 1, (n) => {
        str(n, 1, 'a');
        str(n, 1, '');
        str(n, 2, 'b');
        str(n, 3, 'n0');
        str(n, 4, 'Op');
        str(n, 7, 'com.microsoft');
        attr(n, 'f', 1, (a) => a.uint32((2 << 3) | FIXED32).float(0.5));
        attr(n, 'i', 2, (a) => varint(a, 3, -3));
        attr(n, 's', 3, (a) => a.uint32((4 << 3) | LEN).bytes(new TextEncoder().encode('hi')));
        attr(n, 't', 4, (a) =>
          sub(a, 5, (t) => {
            varint(t, 1, 1);
            varint(t, 2, OnnxDataType.INT32);
            packed(t, 5, (w) => w.int32(-9));
          }),
        );
        attr(n, 'g', 5, (a) => sub(a, 6, (sg) => str(sg, 2, 'inner')));
        attr(n, 'fs', 6, (a) => [1.5, -1].forEach((v) => a.uint32((7 << 3) | FIXED32).float(v)));
        attr(n, 'is', 7, (a) => [4, 5].forEach((v) => varint(a, 8, v)));
        attr(n, 'ss', 8, (a) => ['x', 'y'].forEach((v) => a.uint32((9 << 3) | LEN).bytes(new TextEncoder().encode(v))));
      });
      str(g, 2, 'main');
      valueInfo(g, 11, 'a', OnnxDataType.FLOAT, ['n', 2]);
      valueInfo(g, 12, 'b', OnnxDataType.INT64, []);
      valueInfo(g, 13, 'mid', OnnxDataType.DOUBLE, [3]);
      str(g, 10, 'doc strings are skipped'); // GraphProto.doc_string, not in our schema
    });
  });
  assert.deepStrictEqual(decodeModel(bytes), {
    irVersion: 9,
    producerName: 'torch',
    producerVersion: '2.4',
    opsetImports: [MS_OPSET],
    metadata: { author: 'me' },
    graph: {
      name: 'main',
      nodes: [
        {
          opType: 'Op',
          name: 'n0',
          domain: 'com.microsoft',
          inputs: ['a', ''],
          outputs: ['b'],
          attributes: [
            { name: 'f', type: 'float', value: 0.5 },
            { name: 'i', type: 'int', value: -3 },
            { name: 's', type: 'string', value: 'hi' },
            { name: 't', type: 'tensor', value: typedArrayToTensor('', [1], new Int32Array([-9])) },
            {
              name: 'g',
              type: 'graph',
              value: { name: 'inner', nodes: [], initializers: [], inputs: [], outputs: [] },
            },
            { name: 'fs', type: 'floats', value: [1.5, -1] },
            { name: 'is', type: 'ints', value: [4, 5] },
            { name: 'ss', type: 'strings', value: ['x', 'y'] },
          ],
        },
      ],
      initializers: [],
      inputs: [{ name: 'a', elemType: OnnxDataType.FLOAT, shape: ['n', 2] }],
      outputs: [{ name: 'b', elemType: OnnxDataType.INT64, shape: [] }],
      valueInfo: [{ name: 'mid', elemType: OnnxDataType.DOUBLE, shape: [3] }],
    },
  });
});

test('large initializers encode with one copy and decode as views', () => {
  const n = 50 * 1024 * 1024; // 200 MB of float32
  const w = new Float32Array(n);
  w[n - 1] = 42;
  const model: OnnxModel = {
    irVersion: 8,
    opsetImports: OPSET,
    graph: { name: 'big', nodes: [], initializers: [typedArrayToTensor('w', [n], w)], inputs: [], outputs: [] },
  };
  // The encoder sizes its output first and writes each tensor's bytes once, so the file is the
  // tensor plus a few bytes of framing (its speed is bench/ material, not a test's).
  const bytes = encodeModel(model);
  assert.ok(bytes.byteLength < 4 * n + 100);
  const t = decodeModel(bytes).graph.initializers[0]!;
  assert.equal(t.rawData.buffer, bytes.buffer, 'raw_data should be a view into the file bytes');
  assert.equal(tensorToTypedArray(t)[n - 1], 42);
});

test('typedArrayToTensor checks sizes and tensorToTypedArray copes with unaligned bytes', () => {
  assert.throws(
    () => typedArrayToTensor('w', [2, 2], new Float32Array(3)),
    /tensor 'w': dims \[2,2\] hold 4 elements, array has 3/,
  );
  assert.throws(
    () => typedArrayToTensor('h', [1], new Uint8Array(1), OnnxDataType.FLOAT16),
    /FLOAT16 needs 2-byte elements/,
  );
  const backing = new Uint8Array(9);
  backing.set(new Uint8Array(new Float32Array([1.5, -3]).buffer), 1);
  const unaligned = { name: 'u', dataType: OnnxDataType.FLOAT, dims: [2], rawData: backing.subarray(1) };
  assert.deepStrictEqual(tensorToTypedArray(unaligned), new Float32Array([1.5, -3]));
});
