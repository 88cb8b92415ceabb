import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { freshModelLike, Llama, type DecoderModel } from '../../models/index.ts';
import type { StepRecord } from '../trainer/index.ts';
import type { GenerationReport } from './born-again.ts';
import { runDistill } from './pipeline.ts';
import { cleanup, SEQ, studentConfig, tinyContext, tinyText, tmpDir } from './testing.ts';

after(cleanup);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('born-again: generation 2 learns from generation 1 (finite loss, its KL to generation 1 falls); each is evaluated', async () => {
  const ctx = await tinyContext(tmpDir(), 30);
  const records = new Map<string, StepRecord[]>();
  ctx.hooks.onTrainerEvent = (stage, e) =>
    void (e.type === 'step' && records.set(stage, [...(records.get(stage) ?? []), e.record]));
  const r = await runDistill(ctx, { kind: 'bornAgain', generations: 2 });
  const gens = r.reports[0]!.details!.generations as GenerationReport[];
  assert.deepEqual(
    gens.map((g) => g.generation),
    [1, 2],
  );
  for (const g of gens)
    assert.ok(
      g.perplexity! > 1 && Number.isFinite(g.perplexity!),
      `generation ${g.generation}: perplexity ${g.perplexity}`,
    );
  const gen2 = records.get('1-bornAgain/gen-2')!;
  assert.equal(gen2.length, 30);
  assert.ok(gen2.every((x) => Number.isFinite(x.loss)));
  // Generation 2 starts fresh, so it starts far from generation 1 and moves toward it.
  const kl = gen2.map((x) => x.terms.kd!);
  assert.ok(mean(kl.slice(-5)) < 0.5 * mean(kl.slice(0, 5)), `KL to generation 1: ${kl[0]} → ${kl.at(-1)}`);
  assert.equal(gens[1]!.first, kl[0]);
  // Generation 1 learned from the data alone.
  assert.ok('ce' in records.get('1-bornAgain/gen-1')![0]!.terms);
});

test("born-again with a Llama (qwen2) student: every later generation is rebuilt as a Llama of the student's shapes", async () => {
  const model = new Llama({
    dialect: 'qwen2',
    vocabSize: tinyText().tokenizer.vocabSize,
    maxPositions: SEQ,
    dModel: 16,
    nLayers: 1,
    nHeads: 2,
    nKvHeads: 1,
    mlpHidden: 32,
  });
  const built: DecoderModel[] = [];
  const ctx = await tinyContext(tmpDir(), 3, {
    student: { model, rebuild: () => (built.push(freshModelLike(model)), built.at(-1)!) },
  });
  const r = await runDistill(ctx, { kind: 'bornAgain', generations: 3 });
  const gens = r.reports[0]!.details!.generations as GenerationReport[];
  assert.deepEqual(
    gens.map((g) => g.generation),
    [1, 2, 3],
  );
  for (const g of gens)
    assert.ok(
      Number.isFinite(g.first) && Number.isFinite(g.last),
      `generation ${g.generation}: ${g.first} → ${g.last}`,
    );
  const shapes = (m: DecoderModel, prefix = '') =>
    [...m.params].map(([k, t]) => [k.slice(prefix.length), t.shape.join('x')]);
  // Generations 2 and 3 each trace their teacher (the generation before) under its prefix.
  for (const prefix of ['teacher.gen1.', 'teacher.gen2.']) {
    const teacher = built.find((m) => [...m.params.keys()][0]!.startsWith(prefix));
    assert.ok(teacher instanceof Llama, `${prefix}: a Llama`);
    assert.equal(teacher.config.dialect, 'qwen2');
    assert.deepEqual(shapes(teacher, prefix), shapes(model));
    assert.deepEqual(
      teacher.params.get(`${prefix}model.layers.0.self_attn.k_proj.weight`)!.shape,
      [8, 16],
      'one key/value head of 8',
    );
    assert.ok(teacher.params.has(`${prefix}model.layers.0.self_attn.q_proj.bias`), "qwen2's q/k/v biases");
  }
  assert.deepEqual([...ctx.student.params!.values.keys()].sort(), [...model.params.keys()].sort());
});

test('born-again refuses a rebuild() of another architecture before training, naming what differs', async () => {
  const model = new Llama({
    vocabSize: tinyText().tokenizer.vocabSize,
    maxPositions: SEQ,
    dModel: 16,
    nLayers: 1,
    nHeads: 2,
    mlpHidden: 32,
  });
  const ctx = await tinyContext(tmpDir(), 1, {
    student: { model, rebuild: () => new Gpt2({ ...studentConfig(), dModel: 16, nLayers: 1, nHeads: 2 }) },
  });
  await assert.rejects(
    runDistill(ctx, { kind: 'bornAgain', generations: 2 }),
    /bornAgain: the student's rebuild\(\) made a model that lacks the student's model\.embed_tokens\.weight.*has transformer\.wte\.weight.*which the student does not/,
  );
});

for (const head of ['shared', 'new'] as const) {
  test(`deep-to-shallow (${head} exit heads): the exits' losses fall`, async () => {
    const config = { ...studentConfig(), nLayers: 2 };
    const ctx = await tinyContext(tmpDir(), 40, {
      student: { model: new Gpt2(config), rebuild: () => new Gpt2(config) },
    });
    const records: StepRecord[] = [];
    ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && records.push(e.record));
    const r = await runDistill(ctx, { kind: 'deepToShallow', head, temperature: 2 });
    const exit = records.map((x) => x.terms['exit.1']!);
    assert.ok(mean(exit.slice(-5)) < mean(exit.slice(0, 5)) - 0.2, `exit 1: ${exit[0]} → ${exit.at(-1)}`);
    const ce = records.map((x) => x.terms['exit.1/ce']!);
    assert.ok(mean(ce.slice(-5)) < mean(ce.slice(0, 5)), `exit 1's CE: ${ce[0]} → ${ce.at(-1)}`);
    assert.ok(records.every((x) => x.terms['exit.1/kd']! >= 0));
    const details = r.reports[0]!.details!;
    assert.deepEqual(details.exits, [1]);
    assert.deepEqual(
      details.exitParams,
      head === 'new' ? ['exit.1.ln.weight', 'exit.1.ln.bias', 'exit.1.head.weight'] : [],
    );
  });
}

test('deep-to-shallow refuses a one-block student and exits at or past the last block', async () => {
  const ctx = await tinyContext(tmpDir(), 1);
  await assert.rejects(
    runDistill(ctx, { kind: 'deepToShallow' }),
    /student has 1 block; exits sit below the last block/,
  );
  const config = { ...studentConfig(), nLayers: 2 };
  const two = await tinyContext(tmpDir(), 1, { student: { model: new Gpt2(config), rebuild: () => new Gpt2(config) } });
  await assert.rejects(
    runDistill(two, { kind: 'deepToShallow', exits: [2] }),
    /exits holds block 2, but exits must be below the last block \(1\.\.1/,
  );
});
