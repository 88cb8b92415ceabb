import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Generator } from '../../generate/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { ParamStore, type Executor, type HostTensor } from '../../runtime/index.ts';
import { tokenWindows } from '../trainer/index.ts';
import type { BatchEvent } from './context.ts';
import { onPolicySchema, onPolicyTransform } from './on-policy.ts';
import { runDistill } from './pipeline.ts';
import {
  BATCH,
  cleanup,
  randomTeacher,
  SEQ,
  sharedExecutor,
  studentConfig,
  teacherEntry,
  tinyContext,
  tinyText,
  tmpDir,
} from './testing.ts';

after(cleanup);

const rows = (t: HostTensor) =>
  Array.from({ length: t.shape[0]! }, (_, r) =>
    Array.from((t.data as BigInt64Array).subarray(r * SEQ, (r + 1) * SEQ), Number),
  );

test("on-policy with λ = 0.5: some steps train on the student's generations, which differ from the dataset batches", async () => {
  const base = await sharedExecutor();
  const compiled: string[] = [];
  const counting: Executor = {
    name: 'counting',
    compile: (o, c) => (compiled.push(c?.name ?? ''), base.compile(o, c)),
  };
  const ctx = await tinyContext(tmpDir(), 12, {
    teachers: [teacherEntry(randomTeacher('big', 8))],
    settings: { executor: counting },
  });
  const events: BatchEvent[] = [];
  ctx.hooks.onBatch = (e) => events.push(e);
  const r = await runDistill(ctx, {
    kind: 'pipeline',
    steps: [{ kind: 'onPolicy', lambda: 0.5, promptTokens: 8, temperature: 1 }, { kind: 'kd' }],
  });

  assert.equal(events.length, 12);
  const generated = events.filter((e) => e.origin === 'student');
  assert.ok(generated.length >= 3 && generated.length <= 9, `${generated.length} of 12 batches generated`);
  assert.deepEqual(r.reports[0]!.details!.stats, { batches: 12, generated: generated.length });
  // The dataset batch each generated one replaced: same prompts (first 8 tokens), new continuations.
  const data = tokenWindows(tinyText().train, { batch: BATCH, ctx: SEQ, seed: ctx.settings.seed }).open();
  const dataset = Array.from({ length: 12 }, () => data.next());
  for (const e of generated) {
    const got = rows(e.batch.input_ids as HostTensor),
      want = rows(dataset[e.index]!.input_ids!);
    got.forEach((row, i) =>
      assert.deepEqual(row.slice(0, 8), want[i]!.slice(0, 8), `batch ${e.index} row ${i}: the prompt`),
    );
    assert.notDeepEqual(
      got.map((x) => x.slice(8)),
      want.map((x) => x.slice(8)),
      `batch ${e.index}: continuations are the student's`,
    );
    const labels = rows(e.batch.labels as HostTensor);
    labels.forEach((row, i) => {
      assert.ok(
        row.slice(0, 7).every((l) => l === -100),
        'no label inside the prompt',
      );
      assert.deepEqual(row.slice(7, SEQ - 1), got[i]!.slice(8), 'labels are the generated next tokens');
    });
  }
  for (const e of events.filter((x) => x.origin === 'data'))
    assert.deepEqual(rows(e.batch.input_ids as HostTensor), rows(dataset[e.index]!.input_ids!));
  // Generation compiled its two programs once, whatever the number of generated batches.
  assert.equal(compiled.filter((n) => /^prefill_/.test(n)).length, 1);
  assert.equal(compiled.filter((n) => /^decode_/.test(n)).length, 1);
  // JSD with β = 0.5 is the default divergence of the KD step that follows.
  assert.equal(ctx.kdDefaults.loss.kind, 'logits');
  assert.deepEqual(
    [(ctx.kdDefaults.loss as { divergence: string }).divergence, (ctx.kdDefaults.loss as { beta: number }).beta],
    ['jsd', 0.5],
  );
});

test('generation reads the live parameter values: new values, new samples, same program', async () => {
  const model = new Gpt2(studentConfig());
  const params = ParamStore.init(model.params.values(), 1);
  const base = await sharedExecutor();
  let compiles = 0;
  const executor: Executor = { name: 'counting', compile: (o, c) => (compiles++, base.compile(o, c)) };
  const transform = onPolicyTransform(
    onPolicySchema.parse({ kind: 'onPolicy', lambda: 1, promptTokens: 8, temperature: 0 }),
    SEQ,
    0,
  );
  const batch = tokenWindows(tinyText().train, { batch: BATCH, ctx: SEQ, seed: 3 }).open().next();
  const info = { index: 0, stage: 't', student: { model, params }, executor };
  const first = rows((await transform(batch, info)).input_ids as HostTensor);
  for (const [k, v] of ParamStore.init(model.params.values(), 2).values) params.set(k, v); // what a training step does
  const second = rows((await transform(batch, info)).input_ids as HostTensor);
  assert.notDeepEqual(second, first);
  assert.equal(compiles, 2, 'prefill and decode, compiled once for both calls');
  const fresh = await new Generator(model, params, { executor }).generate(
    first.map((r) => r.slice(0, 8)),
    { maxNewTokens: SEQ - 8, temperature: 0, eosTokenId: [] },
  );
  assert.deepEqual(
    second.map((r) => r.slice(8)),
    fresh.tokens,
    'greedy samples of the new values',
  );
});
