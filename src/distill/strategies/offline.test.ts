import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hostTensor } from '../../runtime/index.ts';
import { StoreReader, StoreTeacher } from '../store/index.ts';
import type { TermConfigInput } from './fields.ts';
import { exampleSource, windowExamples } from './examples.ts';
import { OfflineTeacher } from './offline-teacher.ts';
import { runDistill, type DistillConfigInput } from './pipeline.ts';
import { cleanup, randomTeacher, SEQ, teacherEntry, tinyContext, tinyText, tmpDir } from './testing.ts';

after(cleanup);

const MAX = 64; // examples labelled (the first 64 windows): enough for a few steps, quick to label
const term: TermConfigInput = { name: 'kd', loss: { kind: 'topk', alpha: 0.5, temperature: 2 }, topK: 8 };

/** Losses of the first steps of a run's last training step. */
function recordLosses(ctx: Awaited<ReturnType<typeof tinyContext>>): number[] {
  const losses: number[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && losses.push(e.record.loss));
  return losses;
}

test("distilling from the offline store gives the in-graph teacher's losses on the first step", async () => {
  const teacher = randomTeacher('big', 3);
  const windows = windowExamples(tinyText().train, SEQ, { max: MAX });

  const live = await tinyContext(tmpDir(), 3, { teachers: [teacherEntry(teacher)] });
  live.source = ({ batch, seed }) => exampleSource(tinyText().train, windows, { batch, seed });
  const a = recordLosses(live);
  await runDistill(live, { kind: 'kd', terms: [term] });

  const offline = await tinyContext(tmpDir(), 3, { teachers: [teacherEntry(teacher)] });
  const b = recordLosses(offline);
  const r = await runDistill(offline, {
    kind: 'pipeline',
    steps: [
      { kind: 'offline', topK: 8, maxExamples: MAX, fallback: false },
      { kind: 'kd', terms: [term] },
    ],
  });
  assert.equal(r.teachers[0]!.mode, 'fed');
  assert.equal(r.teachers[0]!.teacher.kind, 'store');
  assert.equal((r.reports[0]!.details!.stores as Record<string, { labelled: number }>).big!.labelled, MAX);
  assert.ok(Math.abs(a[0]! - b[0]!) < 1e-4, `first step: in-graph ${a[0]} vs store ${b[0]}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-3, `step ${i + 1}: ${x} vs ${b[i]}`));
});

test('a rerun reuses the store; a store of another teacher is refused', async () => {
  const dir = tmpDir();
  const store = join(dir, 'store');
  const config: DistillConfigInput = {
    kind: 'pipeline',
    steps: [
      { kind: 'offline', dir: store, topK: 4, maxExamples: 16 },
      { kind: 'kd', steps: 1 },
    ],
  };
  await runDistill(await tinyContext(join(dir, 'a'), 1, { teachers: [teacherEntry(randomTeacher('big', 3))] }), config);
  const again = await runDistill(
    await tinyContext(join(dir, 'b'), 1, { teachers: [teacherEntry(randomTeacher('big', 3))] }),
    config,
  );
  const big = (again.reports[0]!.details!.stores as Record<string, { heldOut?: unknown }>).big!;
  // Compact records (the default): 4 fp16 log-probs, an fp16 tail and 4 packed ids per token.
  const bytesPerToken = (big as { bytesPerToken: number }).bytesPerToken;
  assert.ok(bytesPerToken > 10 && bytesPerToken < 16, `${bytesPerToken} bytes/token`);
  assert.deepEqual(big, {
    dir: store,
    labelled: 0,
    skipped: 16,
    bytesPerToken,
    heldOut: { dir: `${store}-heldout`, labelled: 0, skipped: 8, bytesPerToken },
  });
  await assert.rejects(
    runDistill(await tinyContext(join(dir, 'c'), 1, { teachers: [teacherEntry(randomTeacher('big', 4))] }), config),
    /holds outputs for teacher/,
  );
  const otherData: DistillConfigInput = {
    kind: 'pipeline',
    steps: [
      { kind: 'offline', dir: store, topK: 4, maxExamples: 12 },
      { kind: 'kd', steps: 1 },
    ],
  };
  await assert.rejects(
    runDistill(await tinyContext(join(dir, 'd'), 1, { teachers: [teacherEntry(randomTeacher('big', 3))] }), otherData),
    /holds outputs for dataset/,
  );
});

test('rows the store lacks are scored by the live teacher', async () => {
  const teacher = randomTeacher('big', 5);
  const dir = tmpDir();
  const ctx = await tinyContext(dir, 1, { teachers: [teacherEntry(teacher)] });
  await runDistill(ctx, {
    kind: 'pipeline',
    steps: [
      { kind: 'offline', topK: 4, maxExamples: 8 },
      { kind: 'kd', steps: 1 },
    ],
  });
  const served = ctx.teachers[0]!.teacher as OfflineTeacher;
  assert.ok(served instanceof OfflineTeacher);
  const windows = windowExamples(tinyText().train, SEQ, { max: 8 });
  const novel = Int32Array.from(windows.inputs[0]!).reverse();
  const ids = hostTensor('int64', [2, SEQ], [...windows.inputs[3]!, ...novel]);
  const before = { ...served.served };
  const got = await served.score({ ids, topK: 4 });
  const want = await teacher.score({ ids, topK: 4 });
  assert.deepEqual(got.topk!.ids.data, want.topk!.ids.data);
  // Row 0 from the compact store (fp16 log-probs), row 1 live (exact).
  const n = want.topk!.logprobs.data.length;
  for (let i = 0; i < n; i++) {
    const w = Number(want.topk!.logprobs.data[i]);
    const tol = i < n / 2 ? Math.abs(w) * 2 ** -11 : 1e-6;
    assert.ok(Math.abs(Number(got.topk!.logprobs.data[i]) - w) <= tol, `entry ${i}`);
  }
  // Every row has its tail mass: the store's, and the live row's computed from its log-probs.
  const lp = want.topk!.logprobs.data as Float32Array;
  for (let p = 0; p < 2 * SEQ; p++) {
    let s = 0;
    for (let j = 0; j < 4; j++) s += Math.exp(lp[p * 4 + j]!);
    const tail = Number(got.topk!.tail!.data[p]);
    assert.ok(Math.abs(tail - Math.log1p(-s)) <= 2e-3 * Math.abs(Math.log1p(-s)), `tail ${p}: ${tail}`);
  }
  assert.deepEqual(
    { store: served.served.store - before.store, live: served.served.live - before.live },
    { store: 1, live: 1 },
  );
  // Without the fallback the store refuses the unknown row.
  const plain = new StoreTeacher('big', new StoreReader(join(dir, 'store-big')), windows.inputs);
  await assert.rejects(plain.score({ ids, topK: 4 }), /batch row 1 is not one of the labelled examples/);
});

test('an offline step with sampled targets trains from the draws; a tempered term is refused by name', async () => {
  const dir = tmpDir();
  const teacher = randomTeacher('big', 6);
  const ctx = await tinyContext(dir, 2, { teachers: [teacherEntry(teacher)] });
  const losses = recordLosses(ctx);
  const r = await runDistill(ctx, {
    kind: 'pipeline',
    steps: [
      { kind: 'offline', targets: 'sampled', samples: 6, maxExamples: 16 },
      { kind: 'kd', steps: 2 },
    ],
  });
  const reader = new StoreReader(join(dir, 'store-big'));
  assert.deepEqual([reader.layout.targets, reader.layout.topK, reader.layout.encoding], ['sampled', 6, 'compact']);
  reader.close();
  assert.equal(r.teachers[0]!.teacher.sparse?.targets, 'sampled');
  assert.equal(losses.length, 2);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  await assert.rejects(
    runDistill(await tinyContext(join(dir, 'b'), 1, { teachers: [teacherEntry(teacher)] }), {
      kind: 'pipeline',
      steps: [
        { kind: 'offline', dir: join(dir, 'store-big'), targets: 'sampled', samples: 6, maxExamples: 16 },
        { kind: 'kd', steps: 1, terms: [{ name: 'kd', topK: 6, loss: { kind: 'topk', temperature: 2 } }] },
      ],
    }),
    /targets are sampled .*got temperature 2/,
  );
});
