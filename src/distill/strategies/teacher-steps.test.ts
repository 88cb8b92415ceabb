// The steps that work on the teacher's weights: initFromTeacher (copy into the student) and
// finetuneTeacher (train, save, and distill from the result).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { loadHfModel } from '../../models/hf/index.ts';
import { ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import type { StepRecord } from '../trainer/index.ts';
import { defaultLayers, initFromTeacher } from './init-from-teacher.ts';
import { runDistill } from './pipeline.ts';
import {
  cleanup,
  randomTeacher,
  studentConfig,
  teacherConfig,
  teacherEntry,
  tinyContext,
  tinyText,
  tmpDir,
} from './testing.ts';

after(cleanup);

/** A 4-block teacher, so "every other block" picks 0 and 2. */
function deepTeacher(): LocalTeacher {
  const model = new Gpt2({ ...teacherConfig(), nLayers: 4 });
  return new LocalTeacher('deep', model, ParamStore.init(model.params.values(), 9));
}

test('initFromTeacher copies embeddings, final norm and every other block when widths match', () => {
  const teacher = deepTeacher();
  const student = new Gpt2({ ...teacherConfig(), nLayers: 2, maxPositions: 16 });
  const { params, report } = initFromTeacher(student, teacher.local);
  assert.deepEqual(report.layers, [0, 2]);
  const t = (n: string) => teacher.local.params.get(n).data;
  for (const [name] of student.params) {
    const from = name.replace(/^transformer\.h\.1\./, 'transformer.h.2.');
    if (name === 'transformer.wpe.weight')
      assert.deepEqual(params.get(name).data, t(name).slice(0, 16 * 32), "positions cut to the student's 16");
    else assert.deepEqual(params.get(name).data, t(from), `${name} ← ${from}`);
  }
  assert.equal(report.copied.length, student.params.size);
  assert.deepEqual(report.skipped, []);
  // An explicit map, and the copies are copies (training the student leaves the teacher alone).
  const explicit = initFromTeacher(student, teacher.local, { layers: [3, 1], embeddings: false });
  assert.deepEqual(explicit.params.get('transformer.h.0.mlp.c_fc.weight').data, t('transformer.h.3.mlp.c_fc.weight'));
  assert.ok(!explicit.params.values.has('transformer.wte.weight'));
  assert.deepEqual(explicit.report.skipped.map((s) => s.name).sort(), [
    'transformer.wpe.weight',
    'transformer.wte.weight',
  ]);
  (explicit.params.get('transformer.h.1.ln_1.weight').data as Float32Array)[0] = 123;
  assert.notEqual(t('transformer.h.1.ln_1.weight')[0], 123);
});

test('initFromTeacher refuses a student of another width, and blocks that differ in more than depth', () => {
  const teacher = deepTeacher();
  assert.throws(
    () => initFromTeacher(new Gpt2(studentConfig()), teacher.local),
    /the student is 16 wide \(dModel\) and the teacher 32; copying layers needs equal widths/,
  );
  assert.throws(
    () => initFromTeacher(new Gpt2({ ...teacherConfig(), nLayers: 1, mlpRatio: 2 }), teacher.local),
    /'transformer\.h\.0\.mlp\.c_fc\.weight' is \[32, 64\] in the student but 'transformer\.h\.0\.mlp\.c_fc\.weight' is \[32, 128\]/,
  );
  assert.throws(
    () => initFromTeacher(new Gpt2({ ...teacherConfig(), nLayers: 2 }), teacher.local, { layers: [0, 4] }),
    /layers holds block 4, but the teacher's blocks are 0\.\.3/,
  );
  assert.deepEqual(defaultLayers(3, 4), [0, 2, 3]);
  assert.throws(() => defaultLayers(5, 4), /give layers .* explicitly/);
});

test('initFromTeacher in a pipeline: the student starts where the teacher is', async () => {
  const teacher = randomTeacher('big', 4);
  const config = { ...teacherConfig(), nLayers: 1 };
  const ctx = await tinyContext(tmpDir(), 2, {
    student: { model: new Gpt2(config), rebuild: () => new Gpt2(config) },
    teachers: [teacherEntry(teacher)],
  });
  const first: StepRecord[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && first.push(e.record));
  const r = await runDistill(ctx, {
    kind: 'pipeline',
    steps: [{ kind: 'initFromTeacher' }, { kind: 'hardLabels', steps: 1 }],
  });
  assert.equal((r.reports[0]!.details!.layers as number[])[0], 0);
  // One step moved the copied weights a little, not back to a fresh initialization.
  const a = ctx.student.params!.get('transformer.h.0.attn.c_attn.weight').data,
    b = teacher.local.params.get('transformer.h.0.attn.c_attn.weight').data;
  let diff = 0,
    norm = 0;
  for (let i = 0; i < a.length; i++)
    [diff, norm] = [diff + (Number(a[i]) - Number(b[i])) ** 2, norm + Number(b[i]) ** 2];
  assert.ok(
    Math.sqrt(diff / norm) < 0.1,
    `relative distance from the teacher after one step: ${Math.sqrt(diff / norm)}`,
  );
});

test('finetuneTeacher trains the teacher on the data, saves it, and later steps distill from it; a rerun loads it', async () => {
  const dir = tmpDir();
  const teacher = randomTeacher('big', 6);
  const records = new Map<string, StepRecord[]>();
  const config = {
    kind: 'pipeline',
    steps: [
      { kind: 'finetuneTeacher', steps: 30 },
      { kind: 'kd', steps: 2 },
    ],
  } as const;
  const ctx = await tinyContext(dir, 2, { teachers: [teacherEntry(teacher)] });
  ctx.hooks.onTrainerEvent = (stage, e) =>
    void (e.type === 'step' && records.set(stage, [...(records.get(stage) ?? []), e.record]));
  const r = await runDistill(ctx, structuredClone(config) as never);
  const tuning = records.get('1-finetuneTeacher')!;
  assert.equal(tuning.length, 30);
  assert.ok(
    tuning.at(-1)!.terms.ce! < tuning[0]!.terms.ce! - 0.5,
    `teacher CE ${tuning[0]!.terms.ce} → ${tuning.at(-1)!.terms.ce}`,
  );
  const saved = join(dir, 'teacher-big');
  assert.ok(existsSync(join(saved, 'config.json')) && existsSync(join(saved, 'tokenizer.json')));
  const tuned = r.teachers[0]!.teacher;
  assert.equal(r.reports[0]!.details!.fingerprintAfter, tuned.fingerprint);
  assert.notEqual(tuned.fingerprint, teacher.fingerprint);
  const loaded = loadHfModel(saved).params;
  for (const [k, v] of tuned.local!.params.values) assert.deepEqual(loaded.get(k).data, v.data, k);
  assert.deepEqual(r.reports[1]!.details!.teachers, ['big']);

  // A rerun finds the saved teacher and trains it no more.
  const again = await tinyContext(join(dir, 'again'), 2, { teachers: [teacherEntry(teacher)] });
  let tuneSteps = 0;
  again.hooks.onTrainerEvent = (stage, e) => void (e.type === 'step' && stage === '1-finetuneTeacher' && tuneSteps++);
  const r2 = await runDistill(again, {
    kind: 'pipeline',
    steps: [
      { kind: 'finetuneTeacher', steps: 30, saveDir: saved },
      { kind: 'kd', steps: 1 },
    ],
  });
  assert.equal(tuneSteps, 0);
  assert.equal(r2.teachers[0]!.teacher.fingerprint, tuned.fingerprint);
  assert.equal(tinyText().tokenizer.vocabSize, tuned.info.vocabSize);
});
