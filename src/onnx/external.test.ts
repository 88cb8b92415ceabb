import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  decodeModel,
  encodeModel,
  externalDataBytes,
  layoutExternalData,
  OnnxDataType,
  onnxFileBytes,
  readOnnxFile,
  tensorToTypedArray,
  typedArrayToTensor,
  writeOnnxFile,
  type OnnxModel,
} from './index.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-extdata-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Y = X·W + B, then + S: W is 2.5 MiB (over the 1 MiB alignment threshold), B 16 KiB, S a scalar
// small enough to stay inside the .onnx at the default threshold.
const K = 160,
  N = 4096;
function model(): OnnxModel {
  const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i) / 8);
  const b = Float32Array.from({ length: N }, (_, i) => i / N);
  return {
    irVersion: 9,
    opsetImports: [{ domain: '', version: 20 }],
    graph: {
      name: 'ext',
      nodes: [
        { opType: 'MatMul', inputs: ['X', 'W'], outputs: ['xw'], attributes: [] },
        { opType: 'Add', inputs: ['xw', 'B'], outputs: ['xwb'], attributes: [] },
        { opType: 'Add', inputs: ['xwb', 'S'], outputs: ['Y'], attributes: [] },
      ],
      initializers: [
        typedArrayToTensor('W', [K, N], w),
        typedArrayToTensor('S', [], new Float32Array([0.25])),
        typedArrayToTensor('B', [N], b),
      ],
      inputs: [{ name: 'X', elemType: OnnxDataType.FLOAT, shape: [2, K] }],
      outputs: [{ name: 'Y', elemType: OnnxDataType.FLOAT, shape: [2, N] }],
    },
  };
}

const X = new ort.Tensor(
  'float32',
  Float32Array.from({ length: 2 * K }, (_, i) => Math.cos(i)),
  [2, K],
);
const run = async (s: ort.InferenceSession) => (await s.run({ X })).Y!.data as Float32Array;

test("the layout follows onnx's writer: ascending size, big tensors at 64 KiB offsets, small ones inline", () => {
  const m = model();
  const layout = layoutExternalData(m, { location: 'm.onnx_data' });
  assert.deepEqual(
    layout.order.map((t) => t.name),
    ['B', 'W'],
  );
  assert.equal(layout.offsets.get(m.graph.initializers[2]!), 0);
  assert.equal(layout.offsets.get(m.graph.initializers[0]!), 65536, 'W (over 1 MiB) starts at the next 64 KiB');
  assert.equal(layout.length, 65536 + K * N * 4);
  const bytes = encodeModel(m, { external: layout });
  assert.ok(bytes.byteLength < 1000, `the .onnx keeps only references (${bytes.byteLength} bytes)`);
  const data = externalDataBytes(layout);
  const back = decodeModel(bytes, {
    externalData: (ref) => data.subarray(ref.offset, ref.offset + ref.length),
  });
  assert.deepStrictEqual(
    back.graph.initializers.map((t) => [t.name, t.external, tensorToTypedArray(t)]),
    m.graph.initializers.map((t) => [t.name, undefined, tensorToTypedArray(t)]),
  );
  assert.throws(
    () => layoutExternalData(m, { location: '../elsewhere.bin' }),
    /must be a path inside the model's folder/,
  );
});

test('an external-data file runs in onnxruntime-node from its path and from bytes, and reads back whole', async () => {
  const m = model();
  const want = await run(await ort.InferenceSession.create(encodeModel(m)));
  const path = join(root, 'model.onnx');
  const w = writeOnnxFile(path, m, { externalData: true });
  assert.deepEqual(w.files, [path, `${path}_data`]);
  assert.equal(w.dataFile, 'model.onnx_data');
  assert.equal(w.bytes, onnxFileBytes(path));
  assert.equal(statSync(`${path}_data`).size, 65536 + K * N * 4);
  assert.deepEqual(
    readdirSync(root).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp files left',
  );

  assert.deepEqual(
    await run(await ort.InferenceSession.create(path)),
    want,
    'by path: the data file is found beside it',
  );
  const externalData = [{ path: 'model.onnx_data', data: readFileSync(`${path}_data`) }];
  assert.deepEqual(
    await run(await ort.InferenceSession.create(readFileSync(path), { externalData })),
    want,
    'from bytes, with the externalData session option',
  );

  const back = readOnnxFile(path);
  assert.deepEqual(
    back.graph.initializers.map((t) => tensorToTypedArray(t)),
    m.graph.initializers.map((t) => tensorToTypedArray(t)),
  );
  // The graph alone: weights stay in the data file, and the references are written back unchanged.
  const refs = readOnnxFile(path, { externalData: 'reference' });
  assert.deepEqual(refs.graph.initializers[0]!.external, {
    location: 'model.onnx_data',
    offset: 65536,
    length: K * N * 4,
  });
  assert.equal(refs.graph.initializers[1]!.external, undefined, 'the scalar stayed inline');
  const edited = join(root, 'edited.onnx');
  const renamed = { ...refs, graph: { ...refs.graph, name: 'edited' } };
  writeOnnxFile(edited, renamed, { externalData: false });
  assert.deepEqual(await run(await ort.InferenceSession.create(edited)), want, 'references into model.onnx_data');
});

test("'auto' keeps small models in one file and drops a data file left from an earlier export", () => {
  const path = join(root, 'auto.onnx');
  writeOnnxFile(path, model(), { externalData: true, minExternalBytes: 0 });
  assert.ok(existsSync(`${path}_data`));
  const w = writeOnnxFile(path, model());
  assert.deepEqual(w.files, [path]);
  assert.equal(existsSync(`${path}_data`), false);
  assert.equal(w.bytes, statSync(path).size);
});

test('a missing or truncated data file is refused, naming the file and the tensor', async () => {
  const dir = mkdtempSync(join(root, 'broken-'));
  const path = join(dir, 'model.onnx');
  writeOnnxFile(path, model(), { externalData: true });
  const data = `${path}_data`;
  truncateSync(data, 65536 + 1000);
  for (const mode of ['load', 'reference'] as const)
    assert.throws(
      () => readOnnxFile(path, { externalData: mode }),
      (e: Error) =>
        e.message.includes(data) &&
        /tensor 'W'/.test(e.message) &&
        /truncated/.test(e.message) &&
        /65536/.test(e.message),
    );
  await assert.rejects(ort.InferenceSession.create(path), 'onnxruntime refuses it too');
  rmSync(data);
  assert.throws(
    () => readOnnxFile(path),
    (e: Error) =>
      /tensor '[BW]' keeps its data in 'model\.onnx_data', which is missing/.test(e.message) &&
      e.message.includes(data),
  );
});
