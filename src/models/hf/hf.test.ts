import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ParamStore } from '../../runtime/index.ts';
import { fromFloat32, readSafetensors, writeSafetensors, type Tensor as StTensor } from '../checkpoint/safetensors.ts';
// Through the public entry point, so its exports are exercised too.
import { createModel, loadHfModel, saveHfModel, SequenceClassifier, type DecoderModel } from '../index.ts';
import { CharTokenizer } from '../tokenizers/char-tokenizer.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-hf-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `m${n++}`);

const gpt2Cfg = { vocabSize: 20, maxPositions: 8, dModel: 8, nLayers: 2, nHeads: 2 };
const qwenCfg = {
  dialect: 'qwen2' as const,
  vocabSize: 20,
  maxPositions: 8,
  dModel: 8,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  mlpHidden: 12,
  qkvBias: true,
  tieWordEmbeddings: true,
  eosTokenId: 3,
};

/** Configs equal up to keys holding undefined. */
const sameConfig = (a: unknown, b: unknown) =>
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));

function assertSameParams(model: DecoderModel | SequenceClassifier, a: ParamStore, b: ParamStore) {
  for (const name of model.params.keys()) {
    assert.deepEqual(b.get(name).shape, a.get(name).shape, name);
    assert.deepEqual([...b.get(name).data], [...a.get(name).data], `values of ${name}`);
  }
  assert.equal(b.values.size, model.params.size);
}

test('a Qwen2-dialect Llama saves as HF layout and loads back identically', () => {
  const dir = freshDir();
  const model = createModel('llama', qwenCfg);
  const params = ParamStore.init(model.params.values(), 1);
  saveHfModel(dir, model, params);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'qwen2');
  assert.deepEqual(cfg.architectures, ['Qwen2ForCausalLM']);
  assert.equal(cfg.torch_dtype, 'float32');
  const st = readSafetensors(join(dir, 'model.safetensors'));
  assert.deepEqual(st.metadata, { format: 'pt' }, 'transformers needs format metadata');
  assert.ok(!st.tensors.has('lm_head.weight'), 'tied head is not stored');
  assert.ok(st.tensors.has('model.layers.0.self_attn.q_proj.bias'));
  const loaded = loadHfModel(dir);
  assert.equal(loaded.task, 'causal-lm');
  assert.equal(loaded.family, 'llama');
  sameConfig(loaded.config, model.config);
  assertSameParams(model, params, loaded.params);
});

test('GPT-2 round-trips, with its tokenizer, and also stored as BF16 (converted to float32 on load)', () => {
  const model = createModel('gpt2', { ...gpt2Cfg, tieWordEmbeddings: false });
  const params = ParamStore.init(model.params.values(), 2);
  const dir = freshDir();
  saveHfModel(dir, model, params);
  const loaded = loadHfModel(dir);
  sameConfig(loaded.config, model.config);
  assertSameParams(model, params, loaded.params);
  const withTok = freshDir();
  saveHfModel(withTok, model, params, { tokenizer: CharTokenizer.fromCorpus(['hello world']) });
  assert.equal(
    CharTokenizer.load(withTok).decode(CharTokenizer.load(withTok).encode('hello')),
    'hello',
    'tokenizer saved beside the weights',
  );
  const dir16 = freshDir();
  saveHfModel(dir16, model, params, { dtype: 'BF16' });
  assert.equal(readSafetensors(join(dir16, 'model.safetensors')).tensors.get('transformer.wte.weight')!.dtype, 'BF16');
  const w = params.get('transformer.wte.weight').data as Float32Array;
  const back = loadHfModel(dir16).params.get('transformer.wte.weight');
  assert.ok(back.data instanceof Float32Array);
  back.data.forEach((v, i) => assert.ok(Math.abs(Number(v) - w[i]!) <= Math.abs(w[i]!) * 2 ** -8, `bf16 value ${i}`));
});

test('a classifier round-trips with its head, labels and pooling', () => {
  const model = new SequenceClassifier({
    body: { family: 'gpt2', config: gpt2Cfg },
    numLabels: 2,
    labels: ['ham', 'spam'],
    padTokenId: 0,
    pooling: 'mean',
  });
  const params = ParamStore.init(model.params.values(), 3);
  const dir = freshDir();
  saveHfModel(dir, model, params);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['GPT2ForSequenceClassification']);
  assert.deepEqual(cfg.id2label, { 0: 'ham', 1: 'spam' });
  const loaded = loadHfModel(dir);
  assert.equal(loaded.task, 'sequence-classification');
  sameConfig(loaded.config, model.config);
  assertSameParams(model, params, loaded.params);
});

/** Writes a folder with `config` and the given tensors as they would come from some other tool. */
function writeFolder(config: Record<string, unknown>, tensors: Map<string, StTensor>): string {
  const dir = freshDir();
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const asSt = (model: DecoderModel, params: ParamStore, rename = (s: string) => s) =>
  new Map<string, StTensor>(
    [...model.params.keys()].map((k) => [
      rename(k),
      { dtype: 'F32', shape: params.get(k).shape, data: params.get(k).data as Float32Array },
    ]),
  );

test('GPT2Model checkpoints without the transformer. prefix, with mask buffers and a stored tied head, load', () => {
  const model = createModel('gpt2', gpt2Cfg);
  const params = ParamStore.init(model.params.values(), 4);
  const tensors = asSt(model, params, (k) => k.replace(/^transformer\./, ''));
  tensors.set('h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 8, 8], data: new Float32Array(64) });
  tensors.set('h.1.attn.masked_bias', { dtype: 'F32', shape: [], data: new Float32Array(1) });
  tensors.set('lm_head.weight', {
    dtype: 'F16',
    shape: [20, 8],
    data: fromFloat32(params.get('transformer.wte.weight').data as Float32Array, 'F16') as Uint16Array,
  });
  const loaded = loadHfModel(
    writeFolder({ model_type: 'gpt2', vocab_size: 20, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2 }, tensors),
  );
  assertSameParams(model, params, loaded.params);
});

test('a checkpoint that does not fit its config lists missing, unexpected and mis-shaped tensors', () => {
  const model = createModel('llama', qwenCfg);
  const params = ParamStore.init(model.params.values(), 5);
  const tensors = asSt(model, params);
  tensors.delete('model.norm.weight');
  tensors.set('model.layers.0.self_attn.q_norm.weight', { dtype: 'F32', shape: [4], data: new Float32Array(4) });
  tensors.set('model.layers.0.mlp.up_proj.weight', { dtype: 'F32', shape: [8, 12], data: new Float32Array(96) });
  tensors.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
  const dir = writeFolder(
    {
      model_type: 'qwen2',
      vocab_size: 20,
      max_position_embeddings: 8,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      intermediate_size: 12,
      tie_word_embeddings: true,
    },
    tensors,
  );
  assert.throws(
    () => loadHfModel(dir),
    (err: Error) => {
      assert.match(err.message, /missing from the checkpoint: model\.norm\.weight/);
      assert.match(err.message, /not in the model: model\.layers\.0\.self_attn\.q_norm\.weight/);
      assert.match(err.message, /model\.layers\.0\.mlp\.up_proj\.weight: checkpoint \[8, 12\] vs model \[12, 8\]/);
      assert.doesNotMatch(err.message, /inv_freq/);
      return true;
    },
  );
});

test('sharded checkpoints load through model.safetensors.index.json; a later single-file save replaces the index', () => {
  const model = createModel('llama', { ...qwenCfg, tieWordEmbeddings: false });
  const params = ParamStore.init(model.params.values(), 6);
  const all = asSt(model, params);
  const names = [...all.keys()];
  const dir = freshDir();
  const shard = (i: number) => `model-0000${i + 1}-of-00002.safetensors`;
  const weightMap: Record<string, string> = {};
  names.forEach((k, i) => (weightMap[k] = shard(i % 2)));
  for (const i of [0, 1])
    writeSafetensors(join(dir, shard(i)), new Map(names.filter((_, j) => j % 2 === i).map((k) => [k, all.get(k)!])), {
      format: 'pt',
    });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'qwen2',
      vocab_size: 20,
      max_position_embeddings: 8,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      intermediate_size: 12,
      tie_word_embeddings: false,
    }),
  );
  const loaded = loadHfModel(dir);
  assertSameParams(model, params, loaded.params);
  const other = ParamStore.init(model.params.values(), 7);
  saveHfModel(dir, loaded.model, other);
  assert.ok(!existsSync(join(dir, 'model.safetensors.index.json')));
  assertSameParams(model, other, loadHfModel(dir).params);
});

test('unknown model types and missing folders are refused with what to do', () => {
  const dir = writeFolder({ model_type: 'bert' }, new Map());
  assert.throws(() => loadHfModel(dir), /model_type 'bert'; supported: gpt2, llama, qwen2, mistral/);
  assert.throws(() => loadHfModel(join(root, 'nope')), /config\.json does not exist/);
});

test('a checkpoint whose float32 weights exceed the available memory is refused, with the sizes and what to do', () => {
  const dir = freshDir();
  const model = createModel('llama', qwenCfg);
  const params = ParamStore.init(model.params.values(), 2);
  saveHfModel(dir, model, params, { dtype: 'BF16' });
  const count = params.count();
  const noCgroup = mkdtempSync(join(tmpdir(), 'retort-no-cgroup-'));
  assert.throws(
    () => loadHfModel(dir, { memory: { freeBytes: 4 * count - 1, cgroupDir: noCgroup } }),
    (err: Error) =>
      err.message.startsWith(`loadHfModel: ${dir} holds ${count.toLocaleString('en')} parameters, which take `) &&
      / take \d+ KiB as float32, but only \d+ KiB is available \(free memory\)/.test(err.message) &&
      err.message.includes('Use a smaller model'),
  );
  const loaded = loadHfModel(dir, { memory: { freeBytes: 4 * count, cgroupDir: noCgroup } });
  assert.equal(loaded.params.count(), count, 'exactly enough memory is enough');
});
