import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { freshModelLike, Llama, type DecoderModel } from '../../models/index.ts';
import type { StepRecord } from '../trainer/index.ts';
import { runDistill } from './pipeline.ts';
import { PEER_PREFIX } from './online.ts';
import {
  cleanup,
  randomTeacher,
  SEQ,
  studentConfig,
  teacherEntry,
  tinyContext,
  tinyText,
  tmpDir,
  trainedTeacher,
} from './testing.ts';

after(cleanup);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Mean of a term over the first and the last `n` steps. */
const ends = (records: StepRecord[], term: string, n = 5) =>
  [mean(records.slice(0, n).map((r) => r.terms[term]!)), mean(records.slice(-n).map((r) => r.terms[term]!))] as const;

test('online: the teacher keeps training on the task while the student learns from it', async () => {
  const teacher = randomTeacher('big', 7);
  const ctx = await tinyContext(tmpDir(), 40, { teachers: [teacherEntry(teacher)] });
  const records: StepRecord[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && records.push(e.record));
  const r = await runDistill(ctx, { kind: 'online', kd: { kind: 'logits', alpha: 0.5 } });

  const after = ctx.teachers[0]!.teacher;
  assert.notEqual(after.fingerprint, teacher.fingerprint, 'the teacher in the run is the trained one');
  const name = 'transformer.h.0.attn.c_attn.weight';
  const was = teacher.local.params.get(name).data,
    now = after.local!.params.get(name).data;
  assert.ok(
    was.some((x, i) => x !== now[i]),
    `${name} did not change`,
  );
  const [ce0, ce1] = ends(records, 'teacher.ce');
  assert.ok(ce1 < ce0 - 0.3, `the teacher's CE ${ce0} → ${ce1}`);
  // The target moves (the teacher learns), so the student's learning shows in its own next-token CE.
  const [sce0, sce1] = ends(records, 'student.kd/ce');
  assert.ok(sce1 < sce0 - 0.3, `the student's CE ${sce0} → ${sce1}`);
  assert.ok(records.every((x) => Number.isFinite(x.terms['student.kd/kd']!)));
  assert.ok(Number.isFinite(r.reports[0]!.eval!.loss));
});

test('online: the KD term does not reach the teacher unless pullTeacher is set', async () => {
  // With the teacher's own CE weighted 0, only the KD term could move it.
  const run = async (pullTeacher: boolean) => {
    const teacher = await trainedTeacher('big', 250);
    const ctx = await tinyContext(tmpDir(), 3, { teachers: [teacherEntry(teacher)] });
    await runDistill(ctx, { kind: 'online', teacherWeight: 0, pullTeacher, kd: { kind: 'logits', alpha: 1 } });
    return ctx.teachers[0]!.teacher.fingerprint !== teacher.fingerprint;
  };
  assert.equal(await run(false), false, 'stopGradient: the teacher stays put');
  assert.equal(await run(true), true, 'pullTeacher: the student pulls the teacher');
});

test("mutual learning: both peers' losses fall, each with a KL to the other", async () => {
  const ctx = await tinyContext(tmpDir(), 40);
  const records: StepRecord[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && records.push(e.record));
  await runDistill(ctx, { kind: 'mutual' });
  for (const peer of ['a', 'b']) {
    const [ce0, ce1] = ends(records, `${peer}.ce`);
    assert.ok(ce1 < ce0 - 0.3, `peer ${peer}: CE ${ce0} → ${ce1}`);
    const [t0, t1] = [records[0]!, records.at(-1)!].map((r) => r.terms[`${peer}.ce`]! + r.terms[`${peer}.kl`]!);
    assert.ok(t1! < t0!, `peer ${peer}: CE + KL ${t0} → ${t1}`);
  }
  assert.ok(
    records[0]!.terms['a.kl']! > 0 && records[0]!.terms['b.kl']! > 0,
    'two differently initialized peers disagree',
  );
});

const tinyLlama = () =>
  new Llama({
    dialect: 'qwen2',
    vocabSize: tinyText().tokenizer.vocabSize,
    maxPositions: SEQ,
    dModel: 16,
    nLayers: 1,
    nHeads: 2,
    nKvHeads: 1,
    mlpHidden: 32,
  });

test("mutual learning with a Llama (qwen2) student: the peer is a Llama of the student's shapes, and both train", async () => {
  const model = tinyLlama();
  const built: DecoderModel[] = [];
  const ctx = await tinyContext(tmpDir(), 3, {
    student: { model, rebuild: () => (built.push(freshModelLike(model)), built.at(-1)!) },
  });
  const records: StepRecord[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && records.push(e.record));
  await runDistill(ctx, { kind: 'mutual' });
  assert.ok(built.length > 0);
  const shapes = (m: DecoderModel, prefix = '') =>
    [...m.params].map(([k, t]) => [k.slice(prefix.length), t.shape.join('x')]);
  for (const peer of built) {
    assert.ok(peer instanceof Llama && peer.config.dialect === 'qwen2');
    assert.deepEqual(shapes(peer, PEER_PREFIX), shapes(model));
  }
  const peer = built[0]!;
  assert.deepEqual(
    peer.params.get(`${PEER_PREFIX}model.layers.0.self_attn.v_proj.weight`)!.shape,
    [8, 16],
    'one key/value head of 8',
  );
  assert.ok(peer.params.has(`${PEER_PREFIX}model.layers.0.mlp.gate_proj.weight`), "the peer's MLP is SwiGLU");
  assert.equal(records.length, 3);
  assert.ok(records.every((x) => ['a.ce', 'a.kl', 'b.ce', 'b.kl'].every((t) => Number.isFinite(x.terms[t]!))));
  assert.ok(records[0]!.terms['b.kl']! > 0, 'two differently initialized peers disagree');
});

test("mutual learning refuses a peer of another architecture (a GPT-2 from the Llama student's dimensions)", async () => {
  const model = tinyLlama();
  const ctx = await tinyContext(tmpDir(), 1, {
    student: { model, rebuild: () => new Gpt2({ ...studentConfig(), dModel: 16, nLayers: 1, nHeads: 2 }) },
  });
  await assert.rejects(
    runDistill(ctx, { kind: 'mutual' }),
    /mutual: the student's rebuild\(\) made a model that lacks the student's model\.embed_tokens\.weight/,
  );
});
