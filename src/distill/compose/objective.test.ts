import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../../optim/index.ts';
import { hostTensor, mulberry32, ParamStore, type HostTensor } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { lossWeightName } from '../losses/balance.ts';
import { buildDistillObjective, type LossTerm } from './objective.ts';
import type { TeacherMode, TeacherSlot } from './teachers.ts';

const V = 24,
  B = 4,
  T = 12;
const teacherConfig = { vocabSize: V, maxPositions: T, dModel: 32, nLayers: 2, nHeads: 4 };
const studentConfig = { vocabSize: V, maxPositions: T, dModel: 16, nLayers: 1, nHeads: 2 };

function makeTeacher(name: string, seed: number): LocalTeacher {
  const model = new Gpt2(teacherConfig);
  const params = ParamStore.init(model.params.values(), seed);
  // Sharpen the random teacher so its distributions are far from uniform.
  for (const v of params.values.values())
    if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 8));
  return new LocalTeacher(name, model, params);
}

function batch(rng: () => number): { input_ids: HostTensor; labels: HostTensor } {
  const ids = Array.from({ length: B * T }, () => Math.floor(rng() * V));
  const labels = ids.map((_, i) => (i % T === T - 1 ? -100 : ids[i + 1]!));
  return { input_ids: hostTensor('int64', [B, T], ids), labels: hostTensor('int64', [B, T], labels) };
}

async function distill(
  teachers: LocalTeacher[],
  mode: TeacherMode,
  terms: LossTerm[],
  steps: number,
  multi?: 'weighted' | 'confidence',
) {
  const student = new Gpt2(studentConfig);
  const slots: TeacherSlot[] = teachers.map((t) => ({
    name: t.name,
    teacher: t,
    mode,
    rebuild: () => new Gpt2(teacherConfig),
  }));
  const obj = buildDistillObjective({
    student,
    teachers: slots,
    terms,
    batch: B,
    seq: T,
    multiTeacher: multi ? { mode: multi } : undefined,
  });
  const store = new ParamStore();
  obj.attachTeachers(store);
  const step = await TrainStep.create({
    loss: obj.total,
    metrics: obj.terms,
    trainable: obj.trainable,
    params: store,
    optimizer: defaultAdamW({ weightDecay: 0 }),
    seed: 5,
  });
  const rng = mulberry32(11);
  const weights = Object.fromEntries(
    Object.keys(obj.terms)
      .filter((k) => !k.includes('/'))
      .map((k) => [lossWeightName(k), hostTensor('float32', [], [1])]),
  );
  const fixed = batch(rng);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const feeds = { ...fixed, ...weights, ...(await obj.teacherFeeds(fixed.input_ids)) };
    losses.push((await step.run(feeds, 1e-2)).loss);
  }
  return { losses, step, obj };
}

test("logit KD with an in-graph teacher lowers the student's KL to the teacher", async () => {
  const { losses, step } = await distill(
    [makeTeacher('big', 1)],
    'in-graph',
    [{ name: 'kd', config: { kind: 'logits', alpha: 1 } }],
    40,
  );
  assert.ok(losses[39]! < losses[0]! * 0.5, `KL went ${losses[0]} → ${losses[39]}`);
  assert.ok(
    step.trainableNames.every((n) => !n.startsWith('teacher.')),
    'teacher weights must stay frozen',
  );
});

test('an in-graph teacher and the same teacher fed from score() give the same loss', async () => {
  const t = makeTeacher('big', 2);
  const terms: LossTerm[] = [
    { name: 'kd', config: { kind: 'logits', alpha: 0.7, temperature: 2 } },
    { name: 'hid', config: { kind: 'hidden' } },
  ];
  const a = await distill([t], 'in-graph', terms, 3);
  const b = await distill([t], 'fed', terms, 3);
  a.losses.forEach((x, i) => assert.ok(Math.abs(x - b.losses[i]!) < 1e-4, `step ${i}: ${x} vs ${b.losses[i]}`));
});

test('top-k targets from a fed teacher also lower the KL', async () => {
  const { losses } = await distill(
    [makeTeacher('big', 3)],
    'fed',
    [{ name: 'kd', config: { kind: 'topk', alpha: 1 }, topK: 5 }],
    40,
  );
  assert.ok(losses[39]! < losses[0]! * 0.6, `top-k KD went ${losses[0]} → ${losses[39]}`);
});

test('two teachers: mixed targets (weighted, confidence) and one term per teacher', async () => {
  const teachers = [makeTeacher('a', 4), makeTeacher('b', 5)];
  const kd: LossTerm = { name: 'kd', config: { kind: 'logits', alpha: 1 } };
  for (const multi of ['weighted', 'confidence'] as const) {
    const { losses, obj } = await distill(teachers, 'in-graph', [kd], 30, multi);
    assert.deepEqual(
      Object.keys(obj.terms).filter((k) => !k.includes('/')),
      ['kd'],
    );
    assert.ok(losses[29]! < losses[0]!, `${multi}: ${losses[0]} → ${losses[29]}`);
  }
  const per = await distill(teachers, 'in-graph', [kd], 2);
  assert.deepEqual(
    Object.keys(per.obj.terms)
      .filter((k) => !k.includes('/'))
      .sort(),
    ['kd.a', 'kd.b'],
  );
});

test('a term naming an unknown teacher is refused with the known names', () => {
  assert.throws(
    () =>
      buildDistillObjective({
        student: new Gpt2(studentConfig),
        teachers: [],
        terms: [{ name: 'kd', config: { kind: 'logits' }, teacher: 'ghost' }],
        batch: B,
        seq: T,
      }),
    /names teacher 'ghost', but the teachers are: \(none\)/,
  );
});
