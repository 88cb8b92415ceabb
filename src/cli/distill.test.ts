// retort label and retort distill on a small run config: a teacher folder, a text file, two shards
// labelled and merged, then an offline + kd pipeline that finds the store complete.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Gpt2 } from '../models/gpt2/model.ts';
import { saveHfModel } from '../models/index.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../runtime/index.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-cli-distill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text =
  'Fellow citizens of the Senate and of the House of Representatives: the state of the union is strong. '.repeat(60);
writeFileSync(join(dir, 'corpus.txt'), text);
const tokenizer = trainByteLevelBpe([text], { vocabSize: 300 });
const teacherModel = new Gpt2({ vocabSize: tokenizer.vocabSize, maxPositions: 16, dModel: 32, nLayers: 2, nHeads: 2 });
saveHfModel(join(dir, 'teacher'), teacherModel, ParamStore.init(teacherModel.params.values(), 3), { tokenizer });

const config = (strategy: string, tokenizerPath = 'teacher') => `
model: { family: gpt2, config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16 } }
data: { dataset: corpus.txt, seqLen: 16, batchSize: 4, tokenizer: { kind: hf, path: ${tokenizerPath} } }
optimizer: { kind: adamw, lr: 0.01 }
steps: 3
eval: { every: 0, batches: 2 }
checkpoint: { dir: run }
threads: 1
distill:
  teachers: [ { name: big, source: { kind: retort, hfDir: teacher } } ]
  strategy: ${strategy}
`;

test('retort distill: kd from a teacher folder; the student lands in checkpoint.dir/final', async () => {
  writeFileSync(
    join(dir, 'kd.yaml'),
    config('{ kind: kd, terms: [ { name: kd, loss: { kind: logits, alpha: 0.9 } } ] }'),
  );
  const r = await cli('distill', join(dir, 'kd.yaml'), '--dir', join(dir, 'kd-run'), '--json');
  assert.equal(r.code, 0, r.err + r.out);
  const result = JSON.parse(r.out).result;
  assert.deepEqual(
    result.stages.map((s: { stage: string }) => s.stage),
    ['1-kd'],
  );
  assert.equal(result.stages[0].steps, 3);
  assert.ok(existsSync(join(result.model, 'model.safetensors')) && existsSync(join(result.model, 'tokenizer.json')));
});

test("retort distill refuses a student tokenizer other than the teacher's, naming the field and the fix", async () => {
  writeFileSync(
    join(dir, 'char.yaml'),
    config('{ kind: kd }').replace('tokenizer: { kind: hf, path: teacher }', 'tokenizer: { kind: char }'),
  );
  const r = await cli('distill', join(dir, 'char.yaml'));
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /char\.yaml: data\.tokenizer: expected the tokenizer of teacher 'big' \(distill\.teachers\.0\), got \{kind: char\}; fix: set data\.tokenizer to \{kind: hf, path: teacher\}/,
  );
  writeFileSync(join(dir, 'none.yaml'), config('{ kind: kd }').split('distill:')[0]!);
  const none = await cli('distill', join(dir, 'none.yaml'));
  assert.equal(none.code, 2);
  assert.match(none.err, /none\.yaml: distill: expected a distill section/);
});

test('retort label --shard i/n, --merge, then distill trains from the store without labelling again', async () => {
  writeFileSync(
    join(dir, 'offline.yaml'),
    config('{ kind: pipeline, steps: [ { kind: offline, topK: 4, dir: store }, { kind: kd } ] }'),
  );
  const file = join(dir, 'offline.yaml');
  for (const shard of ['0/2', '1/2']) {
    const r = await cli('label', file, '--shard', shard, '--json');
    assert.equal(r.code, 0, r.err + r.out);
    const result = JSON.parse(r.out).result;
    assert.equal(result.complete, true);
    assert.equal(result.layout.encoding, 'compact');
    assert.ok(result.bytesPerToken > 0);
  }
  const bad = await cli('label', file, '--shard', '2/2');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /shard index must be in 0\.\.1, got 2/);
  // Another encoding than the shards were labelled with is refused, naming the field and the fix.
  const other = await cli('label', file, '--shard', '0/2', '--encoding', 'f32');
  assert.notEqual(other.code, 0);
  assert.match(other.err, /layout\.encoding is "compact", but this run asks for "f32"; set encoding: compact/);
  const merged = await cli('label', file, '--merge');
  assert.equal(merged.code, 0, merged.err);
  assert.match(merged.out, /store: \d+\.\d bytes\/token \(compact, k 4, V \d+\)/);
  assert.ok(readdirSync(join(dir, 'store')).includes('manifest.json'));

  const r = await cli('distill', file, '--json');
  assert.equal(r.code, 0, r.err + r.out);
  const stages = JSON.parse(r.out).result.stages;
  assert.deepEqual(
    stages.map((s: { stage: string }) => s.stage),
    ['1-offline', '2-kd'],
  );
  assert.doesNotMatch(r.err, /labelled \d+\/\d+ training examples/, 'the offline step found the merged store complete');
});

test('lossChunk: kd and hard-label steps chunked over positions train exactly as unchunked (metrics.jsonl)', async () => {
  const strategy =
    '{ kind: pipeline, steps: [ { kind: hardLabels, steps: 2 }, { kind: kd, terms: [ { name: kd, loss: { kind: logits, temperature: 2, alpha: 0.5 } } ] } ] }';
  const losses = async (setting: string) => {
    writeFileSync(join(dir, `chunk-${setting}.yaml`), `${config(strategy)}lossChunk: ${setting}\n`);
    const r = await cli('distill', join(dir, `chunk-${setting}.yaml`), '--dir', join(dir, `chunk-${setting}`));
    assert.equal(r.code, 0, r.err + r.out);
    return ['1-hardLabels', '2-kd'].flatMap((stage) =>
      readFileSync(join(dir, `chunk-${setting}`, stage, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((m) => m.loss !== undefined)
        .map((m) => m.loss as number),
    );
  };
  const whole = await losses('off');
  const chunked = await losses('8'); // 4 × 16 positions in chunks of 8
  assert.equal(chunked.length, whole.length);
  assert.ok(whole.length >= 5, `a loss per step of both steps (${whole.length})`);
  chunked.forEach((v, i) =>
    assert.ok(Math.abs(v - whole[i]!) < 1e-4 * (1 + Math.abs(whole[i]!)), `step ${i}: ${v} vs ${whole[i]}`),
  );
});
