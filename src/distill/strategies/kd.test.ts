import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ConfigError } from '../config/index.ts';
import { evalWindows } from '../trainer/index.ts';
import { teacherAgreement } from './measure.ts';
import { parseDistillConfig, runDistill, strategies } from './pipeline.ts';
import {
  cleanup,
  randomTeacher,
  sharedExecutor,
  teacherEntry,
  tinyContext,
  tinyText,
  tmpDir,
  trainedTeacher,
} from './testing.ts';

after(cleanup);

const heldOut = () => [...evalWindows(tinyText().validation!, { batch: 4, ctx: 32, maxBatches: 4 }).batches()];

test('KD from a trained teacher brings the student closer to it than hard labels alone', async () => {
  const teacher = await trainedTeacher('big', 250);
  const agreement = async (config: Parameters<typeof runDistill>[1]) => {
    const ctx = await tinyContext(tmpDir(), 120, { teachers: [teacherEntry(teacher)] });
    const r = await runDistill(ctx, config);
    assert.ok(Number.isFinite(r.reports.at(-1)!.eval!.loss));
    return teacherAgreement(ctx.student.model, ctx.student.params!, teacher, heldOut(), await sharedExecutor());
  };
  const hard = await agreement({ kind: 'hardLabels' });
  const kd = await agreement({ kind: 'kd', terms: [{ name: 'kd', loss: { kind: 'logits', alpha: 1 } }] });
  assert.ok(
    kd.kl < 0.95 * hard.kl,
    `KL to the teacher: KD ${kd.kl.toFixed(4)} should be below hard labels' ${hard.kl.toFixed(4)}`,
  );
});

test('kd with no terms uses the default logit term; with a fed teacher the student learns too', async () => {
  const teacher = await trainedTeacher('big', 250);
  const ctx = await tinyContext(tmpDir(), 20, { teachers: [teacherEntry(teacher, 'fed')] });
  const steps: number[] = [];
  ctx.hooks.onTrainerEvent = (_stage, e) => void (e.type === 'step' && steps.push(e.record.terms.kd!));
  const r = await strategies.kd(ctx);
  assert.equal(r.reports.length, 1);
  assert.deepEqual(r.reports[0]!.details!.terms, ['kd']);
  assert.equal(steps.length, 20);
  assert.ok(steps.at(-1)! < steps[0]!, `kd term ${steps[0]} → ${steps.at(-1)}`);
  // The evaluation read the fed teacher's outputs for the held-out batches.
  assert.ok(Number.isFinite(r.reports[0]!.eval!.terms.kd!));
});

test('kd with hidden-state, attention and value-relation terms next to logit KD, and two teachers mixed', async () => {
  const teacher = await trainedTeacher('big', 250);
  const ctx = await tinyContext(tmpDir(), 4, {
    teachers: [teacherEntry(teacher), teacherEntry(randomTeacher('other', 2))],
  });
  const terms: Record<string, number>[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && terms.push(e.record.terms));
  await runDistill(ctx, {
    kind: 'kd',
    multiTeacher: { mode: 'weighted', weights: [3, 1] },
    terms: [
      { name: 'kd', loss: { kind: 'logits', alpha: 0.5, temperature: 2 } },
      { name: 'hid', loss: { kind: 'hidden' }, teacher: 'big', weight: 0.5 },
      {
        name: 'att',
        loss: { kind: 'attention' },
        teacher: 'big',
        weight: { kind: 'linear', from: 0, to: 1, endStep: 2 },
      },
      { name: 'val', loss: { kind: 'valueRelation' }, teacher: 'big' },
    ],
  });
  assert.deepEqual(
    Object.keys(terms[0]!)
      .filter((k) => !k.includes('/'))
      .sort(),
    ['att', 'hid', 'kd', 'val'],
  );
  for (const t of terms) for (const [k, v] of Object.entries(t)) assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
});

test('a rerun resumes from the finished checkpoint instead of training again', async () => {
  const dir = tmpDir();
  const first = await tinyContext(dir, 6);
  await runDistill(first, { kind: 'hardLabels' });
  const again = await tinyContext(dir, 6);
  let stepped = 0;
  again.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && stepped++);
  await runDistill(again, { kind: 'hardLabels' });
  assert.equal(stepped, 0);
  for (const [k, v] of first.student.params!.values) assert.deepEqual(again.student.params!.get(k).data, v.data, k);
});

test('config errors name the field, what was expected and a fix', () => {
  assert.throws(
    () => parseDistillConfig({ kind: 'kdd' }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /kind: expected one of .*"kd".*did you mean "kd"\?/);
      return true;
    },
  );
  assert.throws(
    () => parseDistillConfig({ kind: 'onPolicy', lambda: 2 }),
    /lambda: expected a number ≤ 1, got 2; fix: .*own generations/,
  );
  assert.throws(
    () => parseDistillConfig({ kind: 'pipeline', steps: [{ kind: 'offline', topk: 8 }] }),
    /steps\.0\.topk: unknown field; fix: did you mean "topK"\?/,
  );
});

test('a preparing step after the last training step is refused; a pipeline without training ends with kd', async () => {
  const ctx = await tinyContext(tmpDir(), 2);
  await assert.rejects(
    runDistill(ctx, { kind: 'pipeline', steps: [{ kind: 'hardLabels' }, { kind: 'onPolicy' }] }),
    /onPolicy comes after the last training step \(hardLabels\)/,
  );
  await assert.rejects(runDistill(ctx, { kind: 'onPolicy' }), /kd: the run has no teachers/);
});
