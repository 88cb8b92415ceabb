// Benchmark: one knowledge-distillation step (teacher forward + student forward and backward +
// AdamW with clipping) in one onnxruntime run, against the same step in PyTorch 1.13.
//   npx tsx bench/kd-step.ts [--steps 10] [--rounds 3] [--threads 2]
import { parseArgs } from 'node:util';
import { grad } from '../src/autodiff/index.ts';
import { topoSort } from '../src/graph/index.ts';
import { buildDistillObjective } from '../src/distill/compose/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, ParamStore } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { interleave, reportPeer, runPeer } from './peer.ts';
import { describeFloor, gemmFloor, GemmPeak } from './roofline.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const [B, T, V, steps, threads] = [16, 128, 256, Number(a.steps), Number(a.threads)];
const teacherConfig = { vocabSize: V, maxPositions: T, dModel: 256, nLayers: 4, nHeads: 4, gelu: 'none' as const };
const studentConfig = { vocabSize: V, maxPositions: T, dModel: 128, nLayers: 2, nHeads: 4, gelu: 'none' as const };

const teacherModel = new Gpt2(teacherConfig);
const teacher = new LocalTeacher('t', teacherModel, ParamStore.init(teacherModel.params.values(), 1));
const student = new Gpt2(studentConfig);
const obj = buildDistillObjective({
  student,
  teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) }],
  terms: [{ name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } }],
  batch: B,
  seq: T,
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
const rng = mulberry32(3);
const batch = {
  input_ids: hostTensor(
    'int64',
    [B, T],
    Array.from({ length: B * T }, () => Math.floor(rng() * V)),
  ),
  labels: hostTensor(
    'int64',
    [B, T],
    Array.from({ length: B * T }, () => Math.floor(rng() * V)),
  ),
  'loss.weight.kd': hostTensor('float32', [], [1]),
};
for (let i = 0; i < 3; i++) await step.run(batch, 3e-4);
console.log(
  `KD step: teacher GPT 4L d256 (${teacherModel.paramCount().toLocaleString()} params) → student 2L d128 (${student.paramCount().toLocaleString()}), V${V} T${T} B${B}, ${threads} threads`,
);
// Turns with the peer, round after round (see interleave in peer.ts).
const peak = new GemmPeak(threads);
let rssMb = 0;
const rounds = await interleave(
  Number(a.rounds),
  a['no-peer'],
  async () => {
    const s = median(await timeSteps(steps, () => step.run(batch, 3e-4)));
    rssMb ||= peakRssMb(); // before the GEMM probe allocates its own matrices
    await peak.sample();
    return s;
  },
  () =>
    runPeer(
      new URL('./torch_kd_step.py', import.meta.url).pathname,
      ['--steps', String(steps), '--threads', String(threads)],
      threads,
    ),
);
const retortS = median(rounds.map((r) => r.retortS));
console.log(
  `retort  (onnxruntime): ${retortS.toFixed(3)} s/step (median of ${rounds.length} rounds: ${rounds.map((r) => r.retortS.toFixed(3)).join(', ')}), ${((B * T) / retortS).toFixed(0)} tokens/s, peak RSS ${rssMb.toFixed(0)} MB`,
);
const peerS = reportPeer(rounds, (p) => `peak RSS ${Number(p.peak_rss_mb).toFixed(0)} MB`, rssMb);
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
