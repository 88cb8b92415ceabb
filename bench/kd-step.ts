// Benchmark: one knowledge-distillation step (teacher forward + student forward and backward +
// AdamW with clipping) in one onnxruntime run, against the same step in PyTorch 1.13.
//   npx tsx bench/kd-step.ts [--steps 10] [--threads 2]
import { parseArgs } from 'node:util';
import { buildDistillObjective } from '../src/distill/compose/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, ParamStore } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { runPeer } from './peer.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({ options: { steps: { type: 'string', default: '10' }, threads: { type: 'string', default: '2' }, 'no-peer': { type: 'boolean', default: false } } });
const [B, T, V, steps, threads] = [16, 128, 256, Number(a.steps), Number(a.threads)];
const teacherConfig = { vocabSize: V, maxPositions: T, dModel: 256, nLayers: 4, nHeads: 4, gelu: 'none' as const };
const studentConfig = { vocabSize: V, maxPositions: T, dModel: 128, nLayers: 2, nHeads: 4, gelu: 'none' as const };

const teacherModel = new Gpt2(teacherConfig);
const teacher = new LocalTeacher('t', teacherModel, ParamStore.init(teacherModel.params.values(), 1));
const student = new Gpt2(studentConfig);
const obj = buildDistillObjective({
  student, teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) }],
  terms: [{ name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } }], batch: B, seq: T,
});
const store = new ParamStore();
obj.attachTeachers(store);
const step = await TrainStep.create({ loss: obj.total, trainable: obj.trainable, params: store, optimizer: defaultAdamW(), clipNorm: 1, threads });
const rng = mulberry32(3);
const batch = {
  input_ids: hostTensor('int64', [B, T], Array.from({ length: B * T }, () => Math.floor(rng() * V))),
  labels: hostTensor('int64', [B, T], Array.from({ length: B * T }, () => Math.floor(rng() * V))),
  'loss.weight.kd': hostTensor('float32', [], [1]),
};
for (let i = 0; i < 3; i++) await step.run(batch, 3e-4);
const times = await timeSteps(steps, () => step.run(batch, 3e-4));
const tps = (B * T) / median(times);
console.log(`KD step: teacher GPT 4L d256 (${teacherModel.paramCount().toLocaleString()} params) → student 2L d128 (${student.paramCount().toLocaleString()}), V${V} T${T} B${B}, ${threads} threads`);
console.log(`retort  (onnxruntime): ${median(times).toFixed(3)} s/step median, ${tps.toFixed(0)} tokens/s, peak RSS ${peakRssMb().toFixed(0)} MB`);
if (!a['no-peer']) {
  const peer = runPeer(new URL('./torch_kd_step.py', import.meta.url).pathname, ['--steps', String(steps), '--threads', String(threads)], threads);
  if (!peer.ok) console.log(`pytorch: skipped: ${peer.reason}`);
  else {
    const p = peer.figures as Record<string, number>;
    console.log(`pytorch ${p.torch}: ${p.step_s_median!.toFixed(3)} s/step median, ${p.tokens_per_s!.toFixed(0)} tokens/s, peak RSS ${p.peak_rss_mb!.toFixed(0)} MB`);
    console.log(`ratio: retort/pytorch tokens/s = ${(tps / p.tokens_per_s!).toFixed(2)}x`);
  }
}
