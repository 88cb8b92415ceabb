// What a new user meets first, each message naming the field and a fix: retort train on a config
// with teachers, an HTTP teacher the kd step cannot read dense logits from, a failed start that
// leaves no folders behind, a rerun that says it resumes, and eval's names for the models.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LATEST_FILE } from '../distill/checkpoint/index.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { saveHfModel } from '../models/index.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../runtime/index.ts';
import { modelNames } from './eval/run.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-first-contact-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text =
  'Fellow citizens of the Senate and of the House of Representatives: the state of the union is strong. '.repeat(60);
writeFileSync(join(dir, 'corpus.txt'), text);
const tokenizer = trainByteLevelBpe([text], { vocabSize: 300 });
const teacherModel = new Gpt2({ vocabSize: tokenizer.vocabSize, maxPositions: 16, dModel: 32, nLayers: 2, nHeads: 2 });
saveHfModel(join(dir, 'teacher'), teacherModel, ParamStore.init(teacherModel.params.values(), 3), { tokenizer });

const config = (run: string, distill = '') => `
model: { family: gpt2, config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16 } }
data: { dataset: corpus.txt, seqLen: 16, batchSize: 4, tokenizer: { kind: hf, path: teacher } }
optimizer: { kind: adamw, lr: 0.01 }
steps: 4
eval: { every: 0, batches: 1 }
checkpoint: { dir: ${run}, every: 2 }
threads: 1
${distill}`;
const teachers =
  'distill:\n  teachers: [ { name: big, source: { kind: retort, hfDir: teacher } } ]\n  strategy: { kind: kd }\n';

test('retort train refuses a config with a distill section and names retort distill (exit 2)', async () => {
  const file = join(dir, 'kd.yaml');
  writeFileSync(file, config('train-run', teachers));
  const r = await cli('train', file);
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /kd\.yaml: distill: expected no distill section \(retort train learns from the data alone\), got a distill section \(teachers, strategy\); fix: run retort distill .*kd\.yaml to learn from its teachers, or remove the distill section/,
  );
  assert.equal(existsSync(join(dir, 'train-run')), false, 'nothing was written');
});

test('an HTTP teacher (top-k only) gets a top-k KD term by default; dense logits asked of it are refused naming the term, leaving no folders', async () => {
  const http = (strategy: string) =>
    `distill:\n  teachers: [ { name: api, source: { kind: http, baseUrl: "http://127.0.0.1:9/v1", model: gpt, maxRetries: 0 } } ]\n  strategy: ${strategy}\n`;
  const file = join(dir, 'http.yaml');
  writeFileSync(
    file,
    config('nested/http-run', http('{ kind: kd, terms: [ { name: soft, loss: { kind: logits, alpha: 0.5 } } ] }')),
  );
  const r = await cli('distill', file);
  assert.equal(r.code, 1, r.err);
  assert.match(
    r.err,
    /teacher 'api' \(http\) cannot return whole next-token distributions \(loss kind logits\), which term 'soft' reads; use loss \{kind: topk\} with topK: 20/,
  );
  assert.equal(
    existsSync(join(dir, 'nested')),
    false,
    `a failed start leaves no folders: ${existsSync(join(dir, 'nested')) ? readdirSync(join(dir, 'nested'), { recursive: true }).join(', ') : ''}`,
  );

  // The default term reads top-k: the run gets as far as asking the (absent) server.
  writeFileSync(file, config('nested/http-run', http('{ kind: kd }')));
  const d = await cli('distill', file);
  assert.equal(d.code, 1);
  assert.doesNotMatch(d.err, /cannot return/);
  assert.match(d.err, /127\.0\.0\.1:9/, d.err);
  assert.equal(existsSync(join(dir, 'nested')), false, 'nor does one that fails at its first batch');
});

/** What a run killed between its checkpoints at steps 2 and 4 leaves: ckpt-2, named by `latest`. */
function killedAfterStep2(run: string): void {
  rmSync(join(run, 'ckpt-4'), { recursive: true, force: true });
  rmSync(join(run, 'final'), { recursive: true, force: true });
  writeFileSync(join(run, LATEST_FILE), 'ckpt-2\n');
}

test('a rerun of a stopped run says it resumes: "resuming DIR from step N of M (ckpt-N)"', async () => {
  const file = join(dir, 'train.yaml');
  writeFileSync(file, config('resume-run'));
  assert.equal((await cli('train', file)).code, 0);
  killedAfterStep2(join(dir, 'resume-run'));
  const again = await cli('train', file, '--resume', '--json');
  assert.equal(again.code, 0, again.err + again.out);
  assert.match(again.err, /^resuming \S*resume-run from step 2 of 4 \(ckpt-2\)$/m);
  assert.equal(JSON.parse(again.out).result.steps, 4);

  writeFileSync(join(dir, 'kd.yaml'), config('kd-run', teachers));
  const first = await cli('distill', join(dir, 'kd.yaml'), '--json');
  assert.equal(first.code, 0, first.err);
  const stage = JSON.parse(first.out).result.stages[0].dir as string;
  killedAfterStep2(stage);
  const rerun = await cli('distill', join(dir, 'kd.yaml'));
  assert.equal(rerun.code, 0, rerun.err);
  assert.ok(
    rerun.err.includes(`resuming ${stage} from step 2 of 4 (ckpt-2)`),
    `distill steps resume from their folders and say so:\n${rerun.err}`,
  );
});

test('eval names models by their run folder; clashes take more of the path; --name overrides', () => {
  assert.deepEqual(modelNames(['runs/teacher/final', 'runs/kd/final', 'runs/scratch/ckpt-40']), [
    'teacher',
    'kd',
    'scratch',
  ]);
  assert.deepEqual(modelNames(['models/teacher', 'a/kd/final', 'b/kd/final']), ['teacher', 'a/kd', 'b/kd']);
  assert.deepEqual(modelNames(['t', 'runs/kd/final', 'runs/kd/ckpt-40']), ['t', 'kd/final', 'kd/ckpt-40']);
  assert.deepEqual(modelNames(['t', 'runs/kd/final', 'runs/kd/final']), ['t', 'kd', 'kd-2'], 'the same folder twice');
  assert.deepEqual(modelNames(['t', 'runs/kd/final'], ['big']), ['big', 'kd']);
  assert.throws(() => modelNames(['t', 's'], ['a', 'b', 'c']), /--name: 3 names for 2 models/);
  assert.throws(() => modelNames(['t', 's'], ['a', 'a']), /--name a: given twice/);
});
