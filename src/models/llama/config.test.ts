import assert from 'node:assert/strict';
import { test } from 'node:test';
import { llamaConfigFromHf, llamaConfigSchema, llamaConfigToHf } from './config.ts';

const llama = {
  model_type: 'llama',
  vocab_size: 128,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: [2, 3],
};

test('llama: fields map to our names, head_dim defaults to hidden/heads', () => {
  const c = llamaConfigFromHf(llama);
  assert.equal(c.dialect, 'llama');
  assert.equal(c.dModel, 64);
  assert.equal(c.nKvHeads, 2);
  assert.equal(c.headDim, 8);
  assert.equal(c.mlpHidden, 96);
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.rmsNormEps, 1e-5);
  assert.equal(c.tieWordEmbeddings, true);
  assert.deepEqual(c.eosTokenId, [2, 3]);
  assert.equal(c.qkvBias, false);
  assert.equal(c.oBias, false);
});

test('llama: num_key_value_heads absent means multi-head attention; explicit head_dim wins', () => {
  const { num_key_value_heads: _, ...rest } = llama;
  const c = llamaConfigFromHf({ ...rest, head_dim: 16 });
  assert.equal(c.nKvHeads, 8);
  assert.equal(c.headDim, 16);
});

test('llama attention_bias sets q/k/v and o biases; qwen2 has q/k/v only; mistral none', () => {
  const l = llamaConfigFromHf({ ...llama, attention_bias: true });
  assert.deepEqual([l.qkvBias, l.oBias], [true, true]);
  const q = llamaConfigFromHf({ ...llama, model_type: 'qwen2' });
  assert.deepEqual([q.qkvBias, q.oBias], [true, false]);
  const m = llamaConfigFromHf({ ...llama, model_type: 'mistral', attention_bias: true });
  assert.deepEqual([m.qkvBias, m.oBias], [false, false]);
});

test('sliding windows: mistral keeps it, qwen2 only with use_sliding_window below num_hidden_layers', () => {
  assert.equal(llamaConfigFromHf({ ...llama, model_type: 'mistral', sliding_window: 4096 }).slidingWindow, 4096);
  assert.equal(llamaConfigFromHf({ ...llama, model_type: 'mistral', sliding_window: null }).slidingWindow, undefined);
  assert.equal(
    llamaConfigFromHf({ ...llama, model_type: 'qwen2', sliding_window: 4096, use_sliding_window: false }).slidingWindow,
    undefined,
  );
  assert.equal(
    llamaConfigFromHf({
      ...llama,
      model_type: 'qwen2',
      sliding_window: 64,
      use_sliding_window: true,
      max_window_layers: 0,
    }).slidingWindow,
    64,
  );
  assert.equal(
    llamaConfigFromHf({
      ...llama,
      model_type: 'qwen2',
      sliding_window: 64,
      use_sliding_window: true,
      max_window_layers: 2,
    }).slidingWindow,
    undefined,
  );
});

test('rope_scaling: linear and llama3 read; dynamic/yarn refused naming the type', () => {
  assert.deepEqual(llamaConfigFromHf({ ...llama, rope_scaling: { type: 'linear', factor: 4 } }).ropeScaling, {
    kind: 'linear',
    factor: 4,
  });
  const l3 = llamaConfigFromHf({
    ...llama,
    rope_scaling: {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
  });
  assert.deepEqual(l3.ropeScaling, {
    kind: 'llama3',
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: 8192,
  });
  assert.equal(llamaConfigFromHf({ ...llama, rope_scaling: { rope_type: 'default' } }).ropeScaling, undefined);
  for (const kind of ['dynamic', 'yarn', 'longrope']) {
    assert.throws(
      () => llamaConfigFromHf({ ...llama, rope_scaling: { rope_type: kind, factor: 2 } }),
      new RegExp(`rope_scaling type '${kind}' is not supported`),
    );
  }
});

test('transformers 5 rope_parameters carry theta and scaling', () => {
  const { rope_theta: _, ...rest } = llama;
  const c = llamaConfigFromHf({ ...rest, rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 1e6 } });
  assert.equal(c.ropeTheta, 1e6);
  assert.deepEqual(c.ropeScaling, { kind: 'linear', factor: 2 });
});

test('unsupported settings are refused with the field name', () => {
  assert.throws(() => llamaConfigFromHf({ ...llama, hidden_act: 'gelu' }), /hidden_act 'gelu'/);
  assert.throws(() => llamaConfigFromHf({ ...llama, mlp_bias: true }), /mlp_bias/);
  assert.throws(() => llamaConfigFromHf({ ...llama, model_type: 'qwen3' }), /model_type 'qwen3'/);
  assert.throws(() => llamaConfigFromHf({ ...llama, num_key_value_heads: 3 }), /multiple of nKvHeads/);
  assert.throws(
    () => llamaConfigSchema.parse({ vocabSize: 8, maxPositions: 8, dModel: 12, nLayers: 1, nHeads: 4, mlpHidden: 8 }),
    /headDim must be even/,
  );
});

test('each dialect round-trips through config.json', () => {
  for (const hf of [
    {
      ...llama,
      attention_bias: true,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
    },
    { ...llama, model_type: 'qwen2', eos_token_id: 2, pad_token_id: 0 },
    { ...llama, model_type: 'mistral', head_dim: 16, sliding_window: 128 },
  ]) {
    const c = llamaConfigFromHf(hf);
    const back = llamaConfigToHf(c);
    assert.equal(back.model_type, hf.model_type);
    assert.deepEqual(llamaConfigFromHf(back), c);
  }
});

test('a dialect that cannot express the biases is refused on write', () => {
  const c = llamaConfigSchema.parse({
    dialect: 'mistral',
    vocabSize: 8,
    maxPositions: 8,
    dModel: 8,
    nLayers: 1,
    nHeads: 2,
    mlpHidden: 8,
    qkvBias: true,
  });
  assert.throws(() => llamaConfigToHf(c), /dialect 'mistral' cannot express qkvBias=true/);
});
