// A Llama-family student through the CLI: retort train, then retort distill (mutual, born-again),
// logged, rebuilt and saved as its own dialect.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Llama } from '../models/index.ts';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-llama-student-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text =
  'Fellow citizens of the Senate and of the House of Representatives: the state of the union is strong. '.repeat(40);
writeFileSync(join(dir, 'corpus.txt'), text);
const tokenizer = CharTokenizer.fromCorpus([text]);
const llamaConfig = {
  dialect: 'qwen2',
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  mlpHidden: 32,
  maxPositions: 16,
};

test('retort train and retort distill (mutual, then born-again) with a Llama student: logged, rebuilt and saved as qwen2', async () => {
  const common = `data: { dataset: corpus.txt, seqLen: 16, batchSize: 2 }\noptimizer: { kind: adamw, lr: 0.01 }\nsteps: 2\neval: { every: 0, batches: 1 }\nthreads: 1\n`;
  writeFileSync(
    join(dir, 'train.yaml'),
    `model: { family: llama, config: ${JSON.stringify(llamaConfig)} }\n${common}checkpoint: { dir: trained }\n`,
  );
  const t = await cli('train', join(dir, 'train.yaml'), '--json');
  assert.equal(t.code, 0, t.err + t.out);
  assert.match(t.err, /model: llama \(qwen2\), /);
  assert.equal(JSON.parse(readFileSync(join(dir, 'trained', 'final', 'config.json'), 'utf8')).model_type, 'qwen2');

  const strategy = '{ kind: pipeline, steps: [ { kind: mutual }, { kind: bornAgain, generations: 2 } ] }';
  writeFileSync(
    join(dir, 'distill.yaml'),
    `model: { family: llama, hfDir: trained/final }\n${common}checkpoint: { dir: distilled }\ndistill: { strategy: ${strategy} }\n`,
  );
  const d = await cli('distill', join(dir, 'distill.yaml'), '--json');
  assert.equal(d.code, 0, d.err + d.out);
  const params = new Llama({ ...llamaConfig, dialect: 'qwen2', vocabSize: tokenizer.vocabSize }).paramCount();
  assert.match(
    d.err,
    new RegExp(
      `student: llama \\(qwen2\\), ${params.toLocaleString('en')} parameters; teachers: none; strategy: pipeline`,
    ),
  );
  const stages = JSON.parse(d.out).result.stages as { stage: string; steps: number | null }[];
  assert.deepEqual(
    stages.map((s) => s.stage),
    ['1-mutual', '2-bornAgain'],
  );
  assert.equal(stages[0]!.steps, 2);
  const saved = JSON.parse(readFileSync(join(dir, 'distilled', 'final', 'config.json'), 'utf8'));
  assert.equal(saved.model_type, 'qwen2');
  assert.equal(saved.num_key_value_heads, 1);
});
