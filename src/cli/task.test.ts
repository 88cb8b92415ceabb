// retort distill on task data: prompt/completion lines, answer-only KD from a teacher folder,
// padded and packed rows; the kept/truncated/dropped counts in the log and in metrics.jsonl.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MetricsLog } from '../distill/trainer/index.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { saveHfModel } from '../models/index.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../runtime/index.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-cli-task-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const words: [string, string][] = [
  ['cat', 'K AE1 T'],
  ['dog', 'D AO1 G'],
  ['fish', 'F IH1 SH'],
  ['bird', 'B ER1 D'],
  ['tree', 'T R IY1'],
  ['house', 'HH AW1 S'],
  ['water', 'W AO1 T ER0'],
  ['apple', 'AE1 P AH0 L'],
  ['music', 'M Y UW1 Z IH0 K'],
  ['river', 'R IH1 V ER0'],
  ['stone', 'S T OW1 N'],
  ['light', 'L AY1 T'],
];
const lines = words.map(([w, p]) => JSON.stringify({ prompt: w, completion: p }));
// One answer far too long for seqLen 40: dropped, and counted.
lines.push(
  JSON.stringify({
    prompt: 'supercalifragilistic',
    completion: 'S UW2 P ER0 K AE2 L AH0 F R AE1 JH AH0 L IH0 S T IH0 K '.repeat(3).trim(),
  }),
);
writeFileSync(join(dir, 'g2p.jsonl'), `${lines.join('\n')}\n`);
const texts = words.flat().concat(['user:\nassistant:\n']);
const tokenizer = trainByteLevelBpe(texts, { vocabSize: 300 });
const teacherModel = new Gpt2({ vocabSize: tokenizer.vocabSize, maxPositions: 48, dModel: 32, nLayers: 2, nHeads: 2 });
saveHfModel(join(dir, 'teacher'), teacherModel, ParamStore.init(teacherModel.params.values(), 3), { tokenizer });

const config = (extra = '') => `
model: { family: gpt2, config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 48 } }
data: { dataset: g2p.jsonl, seqLen: 40, batchSize: 4, tokenizer: { kind: hf, path: teacher }, validation: { fraction: 0.25 }${extra} }
optimizer: { kind: adamw, lr: 0.01 }
steps: 3
eval: { every: 0, batches: 2 }
checkpoint: { dir: run }
threads: 1
distill:
  teachers: [ { name: big, source: { kind: retort, hfDir: teacher } } ]
  strategy: { kind: kd, terms: [ { name: kd, loss: { kind: logits, alpha: 0.5 } } ] }
`;

for (const packing of [false, true]) {
  test(`retort distill on prompt/completion lines (${packing ? 'packed' : 'padded'} rows): answer-only KD, counts logged and recorded`, async () => {
    const file = join(dir, `kd-${packing}.yaml`);
    writeFileSync(file, config(packing ? ', packing: true' : ''));
    const run = join(dir, `run-${packing}`);
    const r = await cli('distill', file, '--dir', run, '--json');
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.err, /format promptCompletion \(from line 1's fields: prompt, completion\)/);
    assert.match(r.err, /the tokenizer has no chat template; rendering with the plain default/);
    assert.match(
      r.err,
      /examples: train 9 kept, 0 truncated \(prompt cut from the left\), 0 dropped.*; held out 3 kept, 0 truncated .*, 1 dropped/,
    );
    const result = JSON.parse(r.out).result;
    assert.equal(result.stages[0].steps, 3);
    assert.ok(Number.isFinite(result.stages[0].perplexity), 'held-out answers are evaluated');
    const start = MetricsLog.read(join(result.stages[0].dir, 'metrics.jsonl')).find((m) => m.type === 'start')!;
    assert.deepEqual((start.data as { validation: { dropped: number } }).validation.dropped, 1);
    assert.ok(existsSync(join(result.model, 'model.safetensors')));
  });
}

test('a .jsonl of prompts under data.format text is refused with the format it looks like', async () => {
  const file = join(dir, 'text.yaml');
  writeFileSync(file, config(', format: text'));
  const r = await cli('distill', file);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /g2p\.jsonl:1: is a promptCompletion record, but data\.format is text/);
});

test('retort eval --data on held-out prompts: generated answers scored per model, side by side', async () => {
  const file = join(dir, 'eval-kd.yaml');
  writeFileSync(file, config());
  const run = join(dir, 'run-eval');
  assert.equal((await cli('distill', file, '--dir', run)).code, 0);
  const held = join(dir, 'held.jsonl');
  writeFileSync(
    held,
    `${words
      .slice(0, 5)
      .map(([w, p]) => JSON.stringify({ prompt: w, completion: p }))
      .join('\n')}\n`,
  );
  const out = join(dir, 'eval.json');
  const r = await cli(
    'eval',
    '--teacher',
    join(dir, 'teacher'),
    '--student',
    join(run, 'final'),
    '--data',
    held,
    '--max-new-tokens',
    '8',
    '--no-speed',
    '--no-memory',
    '--batch',
    '2',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err + r.out);
  const report = JSON.parse(r.out).result;
  assert.equal(report.models.length, 2);
  for (const m of report.models) {
    assert.equal(m.task.items, 5);
    for (const k of [
      'exactMatch',
      'tokenF1',
      'chrF',
      'tokenErrorRate',
      'teacherExact',
      'teacherChrF',
      'teacherLogprob',
      'latencyMsPerAnswer',
    ])
      assert.equal(typeof m.task[k], 'number', `${m.name}.task.${k}`);
    assert.ok(m.quality.perplexity > 1, 'perplexity on the reference answer tokens');
  }
  assert.equal(report.models[0].task.teacherExact, 1, 'the teacher agrees with its own answers');
  assert.ok(report.models[0].task.teacherLogprob < 0);
  assert.deepEqual(report.generation, { maxNewTokens: 8, temperature: 0, topP: 1, topK: 0, seed: 0 });
  assert.equal(report.examples.length, 5);
  assert.deepEqual(Object.keys(report.examples[0].answers).length, 2);
  assert.equal(report.examples[0].reference, 'K AE1 T');
});

test('teacherAnswers then kd: the teacher writes answers to prompt-only lines once; a rerun reuses them, other settings are refused', async () => {
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, `${words.map(([w]) => JSON.stringify({ prompt: w })).join('\n')}\n`);
  const strategy = (temperature: number) =>
    `{ kind: pipeline, steps: [ { kind: teacherAnswers, maxNewTokens: 6, temperature: ${temperature}, batch: 5, dir: answers, filter: { dropEmpty: false, dropTruncated: false } }, { kind: kd } ] }`;
  const file = join(dir, 'answers.yaml');
  const write = (t: number) =>
    writeFileSync(
      file,
      config()
        .replace('dataset: g2p.jsonl', 'dataset: prompts.jsonl')
        .replace(/strategy: .*/, `strategy: ${strategy(t)}`),
    );
  write(0);
  const r = await cli('distill', file, '--dir', join(dir, 'run-answers'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.err, /teacherAnswers: 9\/9 prompts answered by 'big'/);
  assert.match(r.err, /teacherAnswers: 9 training examples from 9 answered prompts \(generated 9, reused 0/);
  const stages = JSON.parse(r.out).result.stages;
  assert.deepEqual(
    stages.map((s: { stage: string }) => s.stage),
    ['1-teacherAnswers', '2-kd'],
  );
  const store = readFileSync(join(dir, 'answers', 'answers.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(store.length, 9);
  const again = await cli('distill', file, '--dir', join(dir, 'run-answers-2'), '--json');
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /generated 0, reused 9/);
  write(0.8);
  const other = await cli('distill', file, '--dir', join(dir, 'run-answers-3'));
  assert.notEqual(other.code, 0);
  assert.match(other.err, /settings\.temperature: the store's answers were written with 0, this run asks for 0\.8/);
});

test('retort train on prompt/completion lines trains on the answers; prompt-only data is refused with the way forward', async () => {
  const file = join(dir, 'train.yaml');
  writeFileSync(file, config().split('distill:')[0]!);
  const r = await cli('train', file, '--dir', join(dir, 'run-train'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  const result = JSON.parse(r.out).result;
  assert.equal(result.steps, 3);
  assert.ok(Number.isFinite(result.lastEval.perplexity));
  const start = MetricsLog.read(result.metrics).find((m) => m.type === 'start')!;
  assert.equal((start.data as { train: { kept: number } }).train.kept, 9);
  writeFileSync(join(dir, 'only-prompts.jsonl'), `${words.map(([w]) => JSON.stringify({ prompt: w })).join('\n')}\n`);
  writeFileSync(file, config().split('distill:')[0]!.replace('dataset: g2p.jsonl', 'dataset: only-prompts.jsonl'));
  const bad = await cli('train', file, '--dir', join(dir, 'run-train-2'));
  assert.equal(bad.code, 2);
  assert.match(
    bad.err,
    /only-prompts\.jsonl: holds prompts without answers; retort train needs answers \(or use retort distill with a teacherAnswers step/,
  );
});

test('strategies that read text windows refuse task data with the ones that work', async () => {
  const file = join(dir, 'online.yaml');
  writeFileSync(
    file,
    config().replace(
      /strategy: .*/,
      'strategy: { kind: pipeline, steps: [ { kind: offline, topK: 4 }, { kind: kd } ] }',
    ),
  );
  const r = await cli('distill', file, '--dir', join(dir, 'run-online'));
  assert.notEqual(r.code, 0);
  assert.match(
    r.err,
    /offline works on text windows, not yet on task data \(prompts and answers\); use kd, hardLabels, teacherAnswers, onPolicy, initFromTeacher/,
  );
});
