// The model a run config describes: a fresh Llama-family model from model.family llama, a folder's
// own family from model.hfDir (a family that disagrees is refused), and a student that retort train
// and retort distill build, log, rebuild (mutual peers, born-again generations) and save as itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseRunConfig } from './load.ts';
import { modelFromConfig } from './model.ts';
import { familyLabel, freshModelLike, Gpt2, Llama, saveHfModel, type DecoderModel } from '../../models/index.ts';
import { CharTokenizer } from '../../models/tokenizers/char-tokenizer.ts';
import { ParamStore } from '../../runtime/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-model-from-config-'));
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
const run = (model: unknown) =>
  parseRunConfig(
    {
      model,
      data: { dataset: 'corpus.txt', seqLen: 16 },
      optimizer: { kind: 'adamw', lr: 1e-3 },
      steps: 1,
      checkpoint: { dir: 'run' },
    },
    'train.yaml',
    { baseDir: dir },
  );
const shapes = (m: DecoderModel) => [...m.params].map(([k, t]) => [k, t.shape.join('x')]);

test("model.family llama builds a fresh Llama of the config's dialect, vocabulary from the tokenizer", () => {
  const { model, params } = modelFromConfig(run({ family: 'llama', config: llamaConfig }), tokenizer, 'train.yaml');
  assert.ok(model instanceof Llama);
  assert.equal(model.config.dialect, 'qwen2');
  assert.equal(model.config.vocabSize, tokenizer.vocabSize);
  assert.equal(model.config.qkvBias, true, "qwen2's q/k/v biases by default");
  assert.deepEqual(
    model.params.get('model.layers.0.self_attn.k_proj.weight')!.shape,
    [8, 16],
    'one key/value head of 8',
  );
  assert.ok(
    params.values.has('model.layers.0.self_attn.q_proj.bias') &&
      !params.values.has('model.layers.0.self_attn.o_proj.bias'),
  );
  assert.equal(familyLabel(model), 'llama (qwen2)');
  assert.deepEqual(shapes(freshModelLike(model)), shapes(model));
  const gpt2 = modelFromConfig(
    run({ family: 'gpt2', config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16 } }),
    tokenizer,
    'train.yaml',
  ).model;
  assert.ok(gpt2 instanceof Gpt2);
  assert.equal(familyLabel(gpt2), 'gpt2');
});

test('model.hfDir builds the family its config.json names; a model.family that disagrees is refused, naming both', () => {
  const llama = new Llama({ ...llamaConfig, dialect: 'qwen2', vocabSize: tokenizer.vocabSize });
  saveHfModel(join(dir, 'qwen'), llama, ParamStore.init(llama.params.values(), 5));
  assert.throws(
    () => modelFromConfig(run({ family: 'gpt2', hfDir: 'qwen' }), tokenizer, 'train.yaml'),
    /^ConfigError: train\.yaml: model\.family: expected the family of model\.hfDir, which holds a llama model \(config\.json model_type 'qwen2'\), got "gpt2"; fix: set model\.family to llama, or point model\.hfDir at a gpt2 folder$/,
  );
  const { model, params } = modelFromConfig(run({ family: 'llama', hfDir: 'qwen' }), tokenizer, 'train.yaml');
  assert.ok(model instanceof Llama && model.config.dialect === 'qwen2');
  assert.deepEqual(shapes(model), shapes(llama));
  assert.equal(
    params.get('model.embed_tokens.weight').data[3],
    ParamStore.init(llama.params.values(), 5).get('model.embed_tokens.weight').data[3],
  );
  // A student from a folder rebuilds as its own family and config too.
  const fresh = freshModelLike(model);
  assert.ok(fresh instanceof Llama && fresh.config.dialect === 'qwen2');
  assert.deepEqual(shapes(fresh), shapes(model));
});

test('model.dialect beside family llama is read as model.config.dialect; beside gpt2 it is refused, naming the fields', () => {
  const { dialect: _d, ...rest } = llamaConfig;
  const { model } = modelFromConfig(
    run({ family: 'llama', dialect: 'mistral', config: rest }),
    tokenizer,
    'train.yaml',
  );
  assert.ok(model instanceof Llama);
  assert.equal(model.config.dialect, 'mistral');
  assert.throws(
    () => run({ family: 'gpt2', dialect: 'qwen2', config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16 } }),
    /train\.yaml: model\.dialect: unknown field; fix: remove it; model \(.*\) has family, config, hfDir/,
  );
});
