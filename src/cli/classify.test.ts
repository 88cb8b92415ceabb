// retort train and retort distill with task: classify: a teacher classifier trained on a .jsonl of
// labelled texts, a smaller student distilled from it, SpamAssassin read by name, and the refusals.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mulberry32 } from '../data/rng.ts';
import { MetricsLog } from '../distill/trainer/index.ts';
import { loadHfModel } from '../models/index.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-cli-classify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Three topics, told apart by their words: learnable in a few dozen steps.
const topics = {
  fruit: ['apple', 'pear', 'plum', 'fig'],
  cars: ['engine', 'wheel', 'brake', 'gear'],
  sky: ['cloud', 'rain', 'sun', 'wind'],
};
const rng = mulberry32(5);
const lines = Array.from({ length: 240 }, () => {
  const label = Object.keys(topics)[rng.nextInt(3)] as keyof typeof topics;
  const words = Array.from({ length: 6 }, () => topics[label][rng.nextInt(4)]);
  return JSON.stringify({ text: words.join(' '), label });
});
writeFileSync(join(dir, 'topics.jsonl'), `${lines.join('\n')}\n`);

const base = (model: string, steps: number) => `
task: classify
model: { family: gpt2, config: ${model} }
data: { dataset: topics.jsonl, seqLen: 24, batchSize: 8, validation: { fraction: 0.2 } }
optimizer: { kind: adamw, lr: 0.003, weightDecay: 0 }
steps: ${steps}
eval: { every: 0, batches: 4, monitor: accuracy }
threads: 1
`;

test('retort train, task classify: a classifier learns labelled .jsonl texts and lands in checkpoint.dir/final', async () => {
  writeFileSync(
    join(dir, 'teacher.yaml'),
    `${base('{ dModel: 32, nLayers: 2, nHeads: 2, maxPositions: 24 }', 60)}checkpoint: { dir: teacher-run }\n`,
  );
  const r = await cli('train', join(dir, 'teacher.yaml'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  const result = JSON.parse(r.out).result;
  assert.deepEqual(result.labels, ['cars', 'fruit', 'sky']);
  assert.ok(result.lastEval.accuracy > 0.9, `held-out accuracy ${result.lastEval.accuracy}`);
  const loaded = loadHfModel(result.model);
  assert.equal(loaded.task, 'sequence-classification');
  assert.deepEqual(loaded.model.config.labels, ['cars', 'fruit', 'sky']);
  assert.ok(existsSync(join(result.model, 'tokenizer.json')));
});

test('retort distill, task classify: a smaller student learns from the teacher through logit KD', async () => {
  const teacher = join(dir, 'teacher-run', 'final');
  assert.ok(existsSync(teacher), 'the training test runs first');
  const cfg = (strategy: string) =>
    base('{ dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 24 }', 30).replace(
      'validation:',
      `tokenizer: { kind: hf, path: ${teacher} }, validation:`,
    ) +
    `checkpoint: { dir: student-run }\ndistill:\n  teachers: [ { name: big, source: { kind: retort, hfDir: ${teacher} } } ]\n  strategy: ${strategy}\n`;
  writeFileSync(
    join(dir, 'student.yaml'),
    cfg('{ kind: kd, terms: [ { name: kd, loss: { kind: logits, alpha: 0.5, temperature: 2 } } ] }'),
  );
  const r = await cli('distill', join(dir, 'student.yaml'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  const result = JSON.parse(r.out).result;
  assert.equal(result.steps, 30);
  assert.ok(result.lastEval.accuracy > 0.6, `held-out accuracy ${result.lastEval.accuracy}`);
  const steps = MetricsLog.read(result.metrics).filter((x) => x.type === 'step');
  assert.ok(
    steps.every((s) => typeof (s.terms as Record<string, number>)['kd/kd'] === 'number'),
    'the KD term and its parts are logged',
  );
  const kl = steps.map((s) => (s.terms as Record<string, number>)['kd/kd']!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(
    mean(kl.slice(-5)) < mean(kl.slice(0, 5)),
    `KL to the teacher falls: ${mean(kl.slice(0, 5))} → ${mean(kl.slice(-5))}`,
  );
  const student = loadHfModel(result.model);
  assert.equal(student.task, 'sequence-classification');
  assert.ok(student.model.paramCount() < loadHfModel(teacher).model.paramCount() / 4);

  const again = await cli('distill', join(dir, 'student.yaml'), '--json');
  assert.equal(again.code, 0, again.err + again.out);
  assert.match(
    again.err,
    /resuming \S+ from step 30 of 30 \(ckpt-30\)/,
    'a rerun resumes the step from its checkpoints',
  );

  const ex = await cli('export', '--model', result.model, '--out', result.model, '--int8', '--json');
  assert.equal(ex.code, 0, ex.err + ex.out);
  assert.ok(
    existsSync(join(result.model, 'onnx', 'model.onnx')) &&
      existsSync(join(result.model, 'onnx', 'model_quantized.onnx')),
  );
  const ev = await cli(
    'eval',
    '--teacher',
    teacher,
    '--student',
    result.model,
    '--data',
    join(dir, 'topics.jsonl'),
    '--batch',
    '8',
    '--batches',
    '4',
    '--runs',
    '3',
    '--no-memory',
    '--json',
  );
  assert.equal(ev.code, 0, ev.err + ev.out);
  const report = JSON.parse(ev.out).result;
  const [t, s] = report.models;
  assert.ok(
    t.quality.accuracy > 0.9 && s.quality.accuracy > 0.6,
    `eval accuracy teacher ${t.quality.accuracy}, student ${s.quality.accuracy}`,
  );
  // The exported files are timed as a user runs them.
  for (const f of [s.files.fp32, s.files.int8])
    assert.ok(f.latencyMs.p50 > 0 && f.latencyMs.runs === 3, JSON.stringify(f));

  writeFileSync(
    join(dir, 'augment.yaml'),
    cfg('{ kind: pipeline, steps: [ { kind: augment, count: 24, ratio: 0.25, batch: 8 }, { kind: kd } ] }').replace(
      'dir: student-run',
      'dir: augment-run',
    ),
  );
  const aug = await cli('distill', join(dir, 'augment.yaml'), '--json');
  assert.equal(aug.code, 0, aug.err + aug.out);
  assert.match(aug.err, /augment: 24 perturbed training texts labelled by 'big', 25% of training rows/);
  const made = readFileSync(join(dir, 'augment-run', 'augment', 'examples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(made.length, 24);
  assert.ok(
    made.every((e) => ['cars', 'fruit', 'sky'].some((_, k) => e.label === k)),
    'each generated text carries a teacher label',
  );
  assert.equal(JSON.parse(aug.out).result.steps, 30);

  writeFileSync(join(dir, 'online.yaml'), cfg('{ kind: online }'));
  const bad = await cli('distill', join(dir, 'online.yaml'));
  assert.equal(bad.code, 2, bad.err);
  assert.match(
    bad.err,
    /online\.yaml: distill\.strategy\.kind: expected 'kd', 'hardLabels', or 'augment' before them \(what task classify supports\), got "online"/,
  );
});

test('task classify reads SpamAssassin by name and refuses unlabelled text', async () => {
  writeFileSync(
    join(dir, 'spam.yaml'),
    `${base('{ dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 24 }', 2)
      .replace('dataset: topics.jsonl', 'dataset: spam')
      .replace('batches: 4', 'batches: 1')}checkpoint: { dir: spam-run }\n`,
  );
  const r = await cli('train', join(dir, 'spam.yaml'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  assert.deepEqual(JSON.parse(r.out).result.labels, ['ham', 'spam']);
  writeFileSync(
    join(dir, 'sotu.yaml'),
    readFileSync(join(dir, 'spam.yaml'), 'utf8').replace('dataset: spam', 'dataset: sotu'),
  );
  const bad = await cli('train', join(dir, 'sotu.yaml'));
  assert.equal(bad.code, 2);
  assert.match(
    bad.err,
    /sotu\.yaml: data\.dataset: expected 'spam' or a \.jsonl file .*; fix: SOTU text has no labels/,
  );
});
