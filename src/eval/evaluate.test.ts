import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { evalWindows } from '../distill/trainer/index.ts';
import { SequenceClassifier } from '../models/classifier/index.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { mulberry32 } from '../data/rng.ts';
import { hostTensor, OrtExecutor, ParamStore, type Executor } from '../runtime/index.ts';
import { evaluate } from './evaluate.ts';
import { measurePeakMemory } from './memory.ts';
import { QualityAccumulator } from './metrics.ts';
import { paramCount, writeInferenceOnnx } from './programs.ts';
import { groupRows } from './row-groups.ts';
import { EVAL_VERSION, evalReportSchema, parseEvalReport } from './schema.ts';
import { formatEvalTable } from './table.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-eval-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A GPT-2 of known size: V 50, 16 positions, d 32, 2 layers, tied head.
const V = 50,
  P = 16,
  D = 32,
  L = 2;
const config = { vocabSize: V, maxPositions: P, dModel: D, nLayers: L, nHeads: 4 };
/** GPT-2's parameter count by hand: embeddings, per block (2 LNs, qkv, proj, MLP 4×), final LN. */
const gpt2Count = (v: number, p: number, d: number, l: number) =>
  v * d +
  p * d +
  l * (2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)) +
  2 * d;

// A fixed input set: 3 batches of 4 rows × 16 tokens from a seeded stream, last label of each row ignored.
const rng = mulberry32(3);
const stream = Int32Array.from({ length: 3 * 4 * 16 + 1 }, () => rng.nextInt(V));
const windows = evalWindows(stream, { batch: 4, ctx: 16 });
const ignoreLast = {
  inputs: windows.inputs,
  *batches() {
    for (const b of windows.batches()) {
      const labels = (b.labels!.data as BigInt64Array).slice();
      for (let r = 0; r < 4; r++) labels[r * 16 + 15] = -100n;
      yield { input_ids: b.input_ids!, labels: hostTensor('int64', [4, 16], labels) };
    }
  },
};
const data = { source: ignoreLast, description: 'a fixed seeded token stream, 3 batches of 4 × 16' };

function zeros(model: Gpt2): ParamStore {
  const s = new ParamStore();
  for (const [name, p] of model.params) s.set(name, hostTensor('float32', p.shape, new Float32Array(p.size)));
  return s;
}
function sharp(model: Gpt2, seed: number): ParamStore {
  const s = ParamStore.init(model.params.values(), seed);
  for (const v of s.values.values())
    if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 6));
  return s;
}

test('parameter count is exact for a model of known size', () => {
  assert.equal(paramCount(new Gpt2(config)), gpt2Count(V, P, D, L));
  assert.equal(paramCount(new Gpt2({ ...config, dModel: 64, nLayers: 3 })), gpt2Count(V, P, 64, 3));
});

test('a model with all-zero logits has perplexity = vocabulary size; a model agrees with itself (top-1 1, KL 0)', async () => {
  const zeroModel = new Gpt2(config);
  const zero = { name: 'zero', model: zeroModel, params: zeros(zeroModel) };
  const other = new Gpt2(config);
  const random = { name: 'random', model: other, params: sharp(other, 1) };
  const r = await evaluate({
    teacher: zero,
    student: [{ ...zero, name: 'zero-again' }, random],
    data,
    speed: { warmup: 1, runs: 3 },
    memory: false,
  });

  const [t, self, rnd] = r.models;
  assert.equal(r.task, 'lm');
  assert.equal(t!.quality.items, 3 * 4 * 15, 'positions labelled −100 are not scored');
  assert.ok(Math.abs(t!.quality.perplexity! - V) < 1e-9 * V, `perplexity ${t!.quality.perplexity} should be ${V}`);
  assert.ok(Math.abs(t!.quality.nll! - Math.log(V)) < 1e-12);
  // All logits tie, so the prediction is token 0 everywhere: accuracy is the share of labels that are 0.
  let zerosSeen = 0,
    scored = 0;
  for (const b of ignoreLast.batches())
    for (const y of b.labels.data as BigInt64Array) if (y !== -100n) scored++, y === 0n && zerosSeen++;
  assert.equal(t!.quality.accuracy, zerosSeen / scored);
  for (const m of [t!, self!]) {
    assert.equal(m.agreement!.top1, 1);
    assert.equal(m.agreement!.kl, 0);
  }
  assert.equal(self!.agreement!.items, 3 * 4 * 15);
  assert.ok(rnd!.agreement!.kl! > 0.01, `a different model has KL ${rnd!.agreement!.kl} > 0`);
  assert.ok(rnd!.agreement!.top1! < 1);
  assert.equal(rnd!.params, gpt2Count(V, P, D, L));
  for (const m of r.models) {
    assert.ok(m.speed!.latencyMs.p50 > 0 && m.speed!.latencyMs.p50 <= m.speed!.latencyMs.p95);
    assert.equal(m.speed!.latencyMs.runs, 3);
    assert.equal(m.speed!.throughput.unit, 'tokens/s');
    assert.equal(m.speed!.throughput.batch, 4);
  }
});

test('a student whose embedding table is padded past the vocabulary is compared with the teacher over the shared ids', async () => {
  const teacherModel = new Gpt2(config);
  const teacherParams = sharp(teacherModel, 2);
  // The same model with 14 pad rows, whose logits would win every argmax if they were compared.
  const PADDED = V + 14;
  const paddedModel = new Gpt2({ ...config, vocabSize: PADDED });
  const paddedParams = new ParamStore();
  for (const [name, v] of teacherParams.values) {
    if (name !== 'transformer.wte.weight') {
      paddedParams.set(name, v);
      continue;
    }
    const rows = new Float32Array(PADDED * D);
    rows.set(v.data as Float32Array);
    rows.fill(50, V * D);
    paddedParams.set(name, hostTensor('float32', [PADDED, D], rows));
  }
  const r = await evaluate({
    teacher: { name: 'teacher', model: teacherModel, params: teacherParams },
    student: { name: 'padded', model: paddedModel, params: paddedParams },
    data,
    speed: false,
    memory: false,
  });
  const padded = r.models[1]!;
  assert.equal(padded.agreement!.items, 3 * 4 * 15);
  assert.equal(padded.agreement!.top1, 1);
  assert.ok(Math.abs(padded.agreement!.kl!) < 1e-6, `KL over the shared ids ${padded.agreement!.kl}`);
  // Its own perplexity is over all its rows, where the pad rows take the mass.
  assert.ok(padded.quality.perplexity! > r.models[0]!.quality.perplexity!);
});

test('a batch scored a group of rows at a time (logitBytes) gives the figures of the whole batch', async () => {
  const m = new Gpt2(config);
  const teacher = { name: 't', model: m, params: sharp(m, 4) };
  const student = { name: 's', model: m, params: sharp(m, 5) };
  const run = async (logitBytes?: number) => {
    // Records the batch shapes the evaluation compiles its programs at.
    const ort = new OrtExecutor();
    const shapes = new Set<string>();
    const executor: Executor = {
      name: 'recording',
      compile(outputs, opts) {
        shapes.add(String(opts?.name).replace(/^eval_\w+_/, ''));
        return ort.compile(outputs, opts);
      },
    };
    const r = await evaluate({ teacher, student, data, speed: false, memory: false, executor, logitBytes });
    return { r, shapes: [...shapes] };
  };
  const { r: whole, shapes: wholeShapes } = await run();
  // One row's logits are 16 × 50 × 4 = 3,200 bytes: a budget of 2 rows splits each batch of 4 in two.
  const { r: split, shapes: splitShapes } = await run(2 * 16 * V * 4);
  assert.deepEqual(wholeShapes, ['4x16']);
  assert.deepEqual(splitShapes, ['2x16']);
  for (const [a, b] of whole.models.map((w, i) => [w, split.models[i]!] as const)) {
    assert.equal(b.quality.items, a.quality.items);
    assert.ok(Math.abs(b.quality.nll! - a.quality.nll!) < 1e-12, `nll ${b.quality.nll} vs ${a.quality.nll}`);
    assert.equal(b.quality.accuracy, a.quality.accuracy);
    assert.equal(b.agreement!.top1, a.agreement!.top1);
    assert.ok(Math.abs(b.agreement!.kl! - a.agreement!.kl!) < 1e-12);
  }
  assert.ok(whole.models[1]!.agreement!.kl! > 0.01, 'two different models: the comparison has something to compare');
});

test('the throughput figure runs a group of rows that fits logitBytes, unless a batch is asked for', async () => {
  const m = new Gpt2(config);
  const teacher = { name: 't', model: m, params: sharp(m, 4) };
  const lines: string[] = [];
  const twoRows = 2 * 16 * V * 4;
  const speed = { warmup: 0, runs: 1 };
  const bounded = await evaluate({
    teacher,
    student: [],
    data,
    speed,
    memory: false,
    logitBytes: twoRows,
    onProgress: (l) => lines.push(l),
  });
  assert.equal(bounded.models[0]!.speed!.throughput.batch, 2);
  assert.equal(bounded.settings.throughputBatch, 2);
  assert.ok(
    lines.some((l) => /throughput at batch 2, not 4/.test(l)),
    lines.join('\n'),
  );
  const asked = await evaluate({
    teacher,
    student: [],
    data,
    speed: { ...speed, batch: 4 },
    memory: false,
    logitBytes: twoRows,
  });
  assert.equal(asked.models[0]!.speed!.throughput.batch, 4);
  const fits = await evaluate({ teacher, student: [], data, speed, memory: false });
  assert.equal(fits.models[0]!.speed!.throughput.batch, 4, 'a batch whose logits fit is timed whole');
});

test('groupRows takes the largest divisor of the batch that fits, and at least one row', () => {
  assert.equal(groupRows(8, 512, 151936), 1, 'one (512, 151,936) row is 311 MB, over the 256 MiB default');
  assert.equal(groupRows(8, 64, 151936), 4, 'four rows of 64 are 156 MB; five would not divide 8');
  assert.equal(groupRows(6, 10, 10, 10 * 10 * 4 * 5), 3, '5 rows fit; 3 is the largest divisor of 6 below it');
  assert.equal(groupRows(7, 10, 10, 10 * 10 * 4 * 5), 1, 'a prime batch larger than the budget goes a row at a time');
  assert.equal(groupRows(4, 16, 50), 4, 'a small batch is one group');
});

test('the output validates against the versioned schema, survives JSON, and another version is refused', async () => {
  const m = new Gpt2(config);
  const r = await evaluate({
    teacher: { name: 'a', model: m, params: sharp(m, 2) },
    student: { name: 'b', model: m, params: sharp(m, 3) },
    data,
    speed: false,
    memory: false,
  });
  assert.equal(r.version, EVAL_VERSION);
  assert.ok(evalReportSchema.safeParse(r).success);
  const back = parseEvalReport(JSON.parse(JSON.stringify(r)));
  assert.deepEqual(back, r);
  assert.throws(
    () => parseEvalReport({ ...r, version: 99 }, 'eval.json'),
    /eval\.json: written with eval schema version 99, this Retort reads version 1/,
  );
  assert.throws(
    () => parseEvalReport({ ...r, models: [{ ...r.models[0], params: -1 }] }, 'x.json'),
    /x\.json: not a Retort evaluation \(models\.0\.params/,
  );
  const table = formatEvalTable(r);
  assert.match(table, /^model\s+params\s+smaller/);
  assert.match(table, /\nb\s+\S+\s+1\.0×/);
  await assert.rejects(
    evaluate({
      teacher: { name: 'a', model: m, params: sharp(m, 2) },
      student: { name: 'a', model: m, params: sharp(m, 2) },
      data,
      speed: false,
      memory: false,
    }),
    /two models are named 'a'/,
  );
});

test('classifier accuracy and macro-F1 on known predictions', () => {
  // labels 0 0 1 1 2; predictions 0 1 1 1 0 → F1: class 0 2·1/(2+1+1) = 0.5, class 1 2·2/(4+1) = 0.8, class 2 0.
  const q = new QualityAccumulator(3, { confusion: true });
  const onehot = (k: number) => [0, 1, 2].map((i) => (i === k ? 5 : 0));
  q.add([0, 1, 1, 1, 0].flatMap(onehot), [0, 0, 1, 1, 2]);
  assert.equal(q.accuracy(), 3 / 5);
  assert.ok(Math.abs(q.macroF1() - (0.5 + 0.8 + 0) / 3) < 1e-12);
  const q2 = new QualityAccumulator(3, { confusion: true });
  q2.add([0, 1].flatMap(onehot), [0, 1]);
  assert.equal(q2.macroF1(), 1, 'a class that never occurs, in labels or predictions, is left out');
});

test('classifier evaluation: a classifier agrees with itself, F1 and accuracy agree on a fixed set', async () => {
  const cls = new SequenceClassifier({
    body: { family: 'gpt2', config: { vocabSize: 30, maxPositions: 8, dModel: 16, nLayers: 1, nHeads: 2 } },
    numLabels: 2,
    pooling: 'mean',
  });
  const params = ParamStore.init(cls.params.values(), 4);
  const ids = hostTensor(
    'int64',
    [4, 8],
    Array.from({ length: 32 }, (_, i) => (i * 7) % 30),
  );
  const mask = hostTensor(
    'int64',
    [4, 8],
    Array.from({ length: 32 }, (_, i) => (i % 8 < 5 + ((i >> 3) % 3) ? 1 : 0)),
  );
  const source = {
    inputs: {},
    batches: () => [{ input_ids: ids, attention_mask: mask, labels: hostTensor('int64', [4], [0, 1, 1, 0]) }],
  };
  const r = await evaluate({
    teacher: { name: 't', model: cls, params },
    student: { name: 's', model: cls, params },
    data: { source, description: 'four emails', labels: ['ham', 'spam'] },
    speed: { warmup: 0, runs: 2, batch: 2 },
    memory: false,
  });
  assert.equal(r.task, 'classifier');
  assert.deepEqual(r.data.labels, ['ham', 'spam']);
  const s = r.models[1]!;
  assert.equal(s.quality.items, 4);
  assert.equal(s.quality.perplexity, undefined);
  assert.ok(s.quality.macroF1 !== undefined);
  assert.deepEqual(s.agreement, { items: 4, top1: 1, kl: 0 });
  assert.equal(s.speed!.throughput.unit, 'examples/s');
});

test('peak memory is measured in a child process and grows with the model', async () => {
  const small = new Gpt2({ vocabSize: 64, maxPositions: 16, dModel: 16, nLayers: 1, nHeads: 2 });
  const big = new Gpt2({ vocabSize: 16384, maxPositions: 16, dModel: 512, nLayers: 1, nHeads: 2 }); // 11.6M params, 46 MB of float32
  const files: Record<string, string> = {};
  for (const [name, model] of [
    ['small', small],
    ['big', big],
  ] as const) {
    files[name] = join(dir, `${name}.onnx`);
    writeInferenceOnnx({ name, model, params: ParamStore.init(model.params.values(), 1) }, 16, files[name]!);
  }
  const s = await measurePeakMemory(files.small!, { dims: {}, vocab: 64 });
  const b = await measurePeakMemory(files.big!, { dims: {}, vocab: 16384 });
  assert.ok(s.baselineBytes > 10e6 && s.peakBytes >= s.baselineBytes, JSON.stringify(s));
  const bigBytes = statSync(files.big!).size;
  assert.ok(
    b.peakBytes - b.baselineBytes > 0.8 * bigBytes,
    `the big model added ${b.peakBytes - b.baselineBytes} bytes; its weights are ${bigBytes}`,
  );
  assert.ok(b.peakBytes - b.baselineBytes > s.peakBytes - s.baselineBytes + 0.5 * bigBytes);
  await assert.rejects(
    measurePeakMemory(join(dir, 'missing.onnx'), { dims: {}, vocab: 2 }),
    /missing\.onnx: the measuring process exited with 1/,
  );
});
