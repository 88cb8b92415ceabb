import { encodeModel, decodeModel, typedArrayToTensor, OnnxDataType } from '../src/onnx/index.ts';
import * as ort from 'onnxruntime-node';
const n = 50 * 1024 * 1024; // 200 MB of float32
const w = new Float32Array(n); for (let i = 0; i < n; i += 4096) w[i] = i;
const model = {
  irVersion: 8, opsetImports: [{ domain: '', version: 17 }],
  graph: { name: 'big', initializers: [typedArrayToTensor('W', [n], w)],
    nodes: [{ opType: 'Identity', inputs: ['W'], outputs: ['Y'], attributes: [] }],
    inputs: [], outputs: [{ name: 'Y', elemType: OnnxDataType.FLOAT, shape: [n] }] },
};
for (let k = 0; k < 3; k++) {
  let t = performance.now();
  const bytes = encodeModel(model);
  const te = performance.now() - t;
  t = performance.now();
  const m = decodeModel(bytes);
  const td = performance.now() - t;
  console.log(`encode ${bytes.byteLength} bytes in ${te.toFixed(0)} ms, decode ${td.toFixed(0)} ms, view=${m.graph.initializers[0]!.rawData.buffer === bytes.buffer}, rss=${(process.memoryUsage().rss/1e6).toFixed(0)}MB`);
}
const bytes = encodeModel(model);
let t = performance.now();
const s = await ort.InferenceSession.create(bytes);
console.log('ort load ms', (performance.now()-t).toFixed(0));
const out = await s.run({});
const y = out.Y!.data as Float32Array;
console.log(y.length, y[4096], y[8192*100]);
