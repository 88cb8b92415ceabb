// Benchmark: one knowledge-distillation step on task data, against the same step in PyTorch 1.13.
// The batch is what Retort's trainer feeds for prompt/answer examples: one example per row, right-
// padded, labels only on answer tokens (−100 on prompts and padding), an attention_mask that the
// student, the in-graph teacher and the losses all see. Logit KD (α 0.5, T 2) + CE averaged over the
// labelled positions, AdamW with clipping, one onnxruntime run per step.
//   npx tsx bench/task-kd-step.ts [--steps 10] [--rounds 3] [--threads 2] [--teacher-layers 8]
// Tokens/s count every B·T position (padding too), as the other step benchmarks do; labelled
// tokens/s count the answer positions the losses average over.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { grad } from '../src/autodiff/index.ts';
import { batchArrays, IGNORE_INDEX, type EncodedExample } from '../src/data/task/index.ts';
import { buildDistillObjective } from '../src/distill/compose/index.ts';
import { topoSort } from '../src/graph/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, ParamStore, type HostTensor } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { interleave, reportPeer, runPeer } from './peer.ts';
import { describeFloor, gemmFloor, GemmPeak } from './roofline.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'teacher-layers': { type: 'string', default: '8' },
    'teacher-d-model': { type: 'string', default: '256' },
    prompt: { type: 'string', default: '16-64' },
    answer: { type: 'string', default: '8-48' },
    seed: { type: 'string', default: '7' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const [B, T, V, steps, threads] = [16, 128, 256, Number(a.steps), Number(a.threads)];
const studentConfig = { vocabSize: V, maxPositions: T, dModel: 256, nLayers: 4, nHeads: 4, gelu: 'none' as const };
const teacherConfig = { ...studentConfig, dModel: Number(a['teacher-d-model']), nLayers: Number(a['teacher-layers']) };

/** "16-64" → [16, 64], inclusive. */
function range(s: string, name: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2]))
    throw new Error(`--${name} ${s}: expected MIN-MAX token counts, e.g. 16-64`);
  return [Number(m[1]), Number(m[2])];
}
const [promptLen, answerLen] = [range(a.prompt!, 'prompt'), range(a.answer!, 'answer')];
if (promptLen[1] + answerLen[1] > T + 1)
  throw new Error(`--prompt ${a.prompt} and --answer ${a.answer}: the longest example must fit seq ${T} + 1 tokens`);

// A fixed seeded mix of examples: a prompt of varying length, then an answer of varying length,
// `train` 1 on the answer's tokens, as encodeConversation marks them. Token 0 is the padding id.
const rng = mulberry32(Number(a.seed));
const between = ([lo, hi]: [number, number]) => lo + Math.floor(rng() * (hi - lo + 1));
const examples: EncodedExample[] = Array.from({ length: B }, (_, i) => {
  const [p, n] = [between(promptLen), between(answerLen)];
  const ids = Int32Array.from({ length: p + n }, () => 1 + Math.floor(rng() * (V - 1)));
  const train = new Uint8Array(p + n).fill(1, p);
  return { id: `ex${i}`, ids, train };
});
const arrays = batchArrays(
  examples.map((e) => [e]),
  { batch: B, seq: T, padId: 0, packed: false },
);
const count = (xs: BigInt64Array, keep: (x: bigint) => boolean) => xs.reduce((s, x) => s + (keep(x) ? 1 : 0), 0);
const labelled = count(arrays.labels, (x) => x !== BigInt(IGNORE_INDEX));
const real = count(arrays.attention_mask, (x) => x !== 0n);

const teacherModel = new Gpt2(teacherConfig);
const teacher = new LocalTeacher('t', teacherModel, ParamStore.init(teacherModel.params.values(), 1));
const student = new Gpt2(studentConfig);
const obj = buildDistillObjective({
  student,
  teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) }],
  terms: [{ name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } }],
  batch: B,
  seq: T,
  layout: { mask: true, packed: false },
});
const store = new ParamStore();
obj.attachTeachers(store);
const step = await TrainStep.create({
  loss: obj.total,
  trainable: obj.trainable,
  params: store,
  optimizer: defaultAdamW(),
  clipNorm: 1,
  threads,
});

// The peer starts from the same weights and trains on the very same rows, through files; the first
// step's loss (before any update) then has to agree.
const dir = mkdtempSync(join(tmpdir(), 'retort-bench-task-'));
const manifest: Record<'teacher' | 'student', { name: string; shape: readonly number[]; offset: number }[]> = {
  teacher: [],
  student: [],
};
let offset = 0;
for (const [name, v] of store.values) {
  // In-graph teachers' weights sit under a prefix in the store; the peer wants plain GPT-2 names.
  const side = obj.trainable(name) ? 'student' : 'teacher';
  manifest[side].push({
    name: side === 'student' ? name : name.slice(name.indexOf('transformer.')),
    shape: v.shape,
    offset,
  });
  offset += v.data.length;
}
const flat = new Float32Array(offset);
let at = 0;
for (const v of store.values.values()) flat.set(v.data as Float32Array, (at += v.data.length) - v.data.length);
writeFileSync(join(dir, 'weights.bin'), new Uint8Array(flat.buffer));
writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
const batchFile = join(dir, 'batch.json');
const rowsOf = (xs: BigInt64Array) =>
  Array.from({ length: B }, (_, r) => Array.from(xs.subarray(r * T, (r + 1) * T), Number));
writeFileSync(
  batchFile,
  JSON.stringify({
    input_ids: rowsOf(arrays.input_ids),
    labels: rowsOf(arrays.labels),
    attention_mask: rowsOf(arrays.attention_mask),
  }),
);
const batch: Record<string, HostTensor> = {
  input_ids: hostTensor('int64', [B, T], arrays.input_ids), // (B, T)
  labels: hostTensor('int64', [B, T], arrays.labels),
  attention_mask: hostTensor('int64', [B, T], arrays.attention_mask),
  'loss.weight.kd': hostTensor('float32', [], [1]),
};
const firstLoss = (await step.run(batch, 3e-4)).loss;
let loss = NaN;
for (let i = 0; i < 2; i++) loss = (await step.run(batch, 3e-4)).loss;
console.log(
  `task KD step: teacher GPT ${teacherConfig.nLayers}L d${teacherConfig.dModel} (${teacherModel.paramCount().toLocaleString()} params, in-graph) → student ${studentConfig.nLayers}L d${studentConfig.dModel} (${student.paramCount().toLocaleString()}), V${V} T${T} B${B}, ${threads} threads`,
);
console.log(
  `batch: prompts ${a.prompt} and answers ${a.answer} tokens (seed ${a.seed}), right-padded; ${real} real positions of ${B * T} (${((100 * real) / (B * T)).toFixed(0)}%), ${labelled} labelled (${((100 * labelled) / (B * T)).toFixed(0)}% of positions, ${((100 * labelled) / real).toFixed(0)}% of real ones); loss after warm-up ${loss.toFixed(3)}`,
);
const peerArgs = [
  '--batch-file',
  batchFile,
  '--weights',
  dir,
  '--vocab',
  String(V),
  '--steps',
  String(steps),
  '--threads',
  String(threads),
  '--teacher',
  `${teacherConfig.nLayers},${teacherConfig.dModel},${teacherConfig.nHeads}`,
  '--student',
  `${studentConfig.nLayers},${studentConfig.dModel},${studentConfig.nHeads}`,
];

// Turns with the peer, round after round (see interleave in peer.ts).
const peak = new GemmPeak(threads);
let rssMb = 0;
let rounds;
try {
  rounds = await interleave(
    Number(a.rounds),
    a['no-peer'],
    async () => {
      const s = median(await timeSteps(steps, () => step.run(batch, 3e-4)));
      rssMb ||= peakRssMb(); // before the GEMM probe allocates its own matrices
      await peak.sample();
      return s;
    },
    () => runPeer(new URL('./torch_kd_step.py', import.meta.url).pathname, peerArgs, threads),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const retortS = median(rounds.map((r) => r.retortS));
const rates = (s: number) =>
  `${((B * T) / s).toFixed(0)} tokens/s (all B·T positions), ${(labelled / s).toFixed(0)} labelled tokens/s`;
console.log(
  `retort  (onnxruntime): ${retortS.toFixed(3)} s/step (median of ${rounds.length} rounds: ${rounds.map((r) => r.retortS.toFixed(3)).join(', ')}), ${rates(retortS)}, peak RSS ${rssMb.toFixed(0)} MB`,
);
const peerS = reportPeer(
  rounds,
  (p) =>
    `peak RSS ${Number(p.peak_rss_mb).toFixed(0)} MB, teacher ${Number(p.teacher_params).toLocaleString()} / student ${Number(p.student_params).toLocaleString()} params`,
  rssMb,
);
const last = rounds
  .map((r) => r.peer)
  .filter((p) => p?.ok)
  .pop();
if (peerS !== undefined && last?.ok) {
  console.log(`pytorch: ${rates(peerS)} (at its median step)`);
  console.log(
    `loss, same weights and rows: first step retort ${firstLoss.toFixed(6)}, pytorch ${Number(last.figures.first_loss).toFixed(6)}; third step ${loss.toFixed(6)} vs ${Number(last.figures.loss).toFixed(6)}`,
  );
}
// The step's matmuls: the teacher's forward, the student's forward and its gradients.
const floor = gemmFloor(
  [
    obj.total,
    ...grad(
      obj.total,
      topoSort([obj.total]).filter((t) => t.leaf === 'param' && obj.trainable(t.name!)),
    ),
  ],
  peak,
);
console.log(describeFloor(floor, peerS));
