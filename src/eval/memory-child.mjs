// Runs one ONNX file in a process of its own and reports the process's peak resident memory
// (VmHWM from /proc/self/status), so the figure is the model's and not the test runner's.
//   node memory-child.mjs MODEL.onnx '{"dims": {"batch_size": 1, ...}, "runs": 3, "threads": 1, "vocab": 100}'
// Plain JavaScript on purpose: no TypeScript loader, so nothing but Node and onnxruntime is in memory.
// Feeds are made from the session's input metadata: symbolic dims from `dims`, ids from a fixed
// pattern below `vocab`, attention masks of ones, positions 0..n-1, everything else zeros.
// With "timedRuns": n, then times n more runs (latency of the file in plain onnxruntime).
// Prints one JSON line: {"baselineBytes": ..., "peakBytes": ..., "rssBytes": ..., "latencyMs"?: {"p50", "p95", "runs"}}.
import { readFileSync } from 'node:fs';

function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field} line; peak memory is measured on Linux only`);
  return Number(m[1]) * 1024;
}

const [file, optionsJson] = process.argv.slice(2);
if (!file) {
  console.error('usage: node memory-child.mjs MODEL.onnx [OPTIONS_JSON]');
  process.exit(2);
}
const o = JSON.parse(optionsJson ?? '{}');
const dims = o.dims ?? {};
const runs = o.runs ?? 3;
const vocab = o.vocab ?? 2;

const ort = await import('onnxruntime-node');
const baselineBytes = status('VmHWM');

const session = await ort.InferenceSession.create(file, {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: o.threads ?? 1,
  interOpNumThreads: 1,
});

function dimOf(_name, d, input) {
  if (typeof d === 'number') return d;
  if (d in dims) return dims[d];
  throw new Error(
    `input '${input}' has symbolic dim '${d}'; pass its size in dims (have: ${Object.keys(dims).join(', ') || 'none'})`,
  );
}

const feeds = {};
for (const m of session.inputMetadata) {
  if (!m.isTensor) throw new Error(`input '${m.name}' is not a tensor`);
  const shape = m.shape.map((d) => dimOf(m.name, d, m.name));
  const n = shape.reduce((a, b) => a * b, 1);
  const last = shape.at(-1) ?? 1;
  let values;
  if (/input_ids$/.test(m.name)) values = Array.from({ length: n }, (_, i) => (i * 7 + 3) % vocab);
  else if (/attention_mask$/.test(m.name)) values = new Array(n).fill(1);
  else if (/position_ids$/.test(m.name)) values = Array.from({ length: n }, (_, i) => i % last);
  else values = new Array(n).fill(0);
  let data;
  switch (m.type) {
    case 'int64':
      data = BigInt64Array.from(values, BigInt);
      break;
    case 'int32':
      data = Int32Array.from(values);
      break;
    case 'bool':
      data = Uint8Array.from(values);
      break;
    case 'float32':
      data = Float32Array.from(values);
      break;
    default:
      throw new Error(`input '${m.name}' has type ${m.type}, which this script does not feed`);
  }
  feeds[m.name] = new ort.Tensor(m.type, data, shape);
}
for (let i = 0; i < runs; i++) await session.run(feeds);
const out = { baselineBytes, peakBytes: status('VmHWM'), rssBytes: status('VmRSS') };
if (o.timedRuns > 0) {
  const ms = [];
  for (let i = 0; i < o.timedRuns; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  out.latencyMs = { p50: at(0.5), p95: at(0.95), runs: ms.length };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
