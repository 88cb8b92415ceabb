import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../../autodiff/index.ts';
import { constant, crossEntropy, input, ndarray, reduceSum, mul, type Tensor } from '../../graph/index.ts';
import {
  hostTensor,
  mulberry32,
  OrtExecutor,
  ParamStore,
  ReferenceExecutor,
  toNumbers,
  type HostTensor,
} from '../../runtime/index.ts';
import { maxAbsDiff, runGraph } from '../hf/testing.ts';
import type { LlamaConfigInput } from './config.ts';
import { Llama } from './model.ts';
import { applyRope, ropeInvFreq, ropeTables } from './rope.ts';

const ort = new OrtExecutor();
const reference = new ReferenceExecutor();

const tiny: LlamaConfigInput = {
  vocabSize: 40,
  maxPositions: 32,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  mlpHidden: 48,
  qkvBias: true,
  ropeTheta: 100,
};

/** Parameters with std 0.3 (norm weights around 1), so logits are far from zero and mistakes show. */
function randomParams(model: Llama, seed: number): ParamStore {
  const rand = mulberry32(seed);
  const store = new ParamStore();
  for (const [name, p] of model.params) {
    const isNorm = name.endsWith('norm.weight') || name.endsWith('layernorm.weight');
    store.set(
      name,
      hostTensor(
        'float32',
        p.shape,
        Float32Array.from({ length: p.size }, () => (isNorm ? 1 : 0) + (rand() * 2 - 1) * 0.5),
      ),
    );
  }
  return store;
}

const idsOf = (b: number, t: number, seed: number): HostTensor => {
  const rand = mulberry32(seed);
  return hostTensor(
    'int64',
    [b, t],
    Array.from({ length: b * t }, () => Math.floor(rand() * 40)),
  );
};

test('parameter names are exactly Hugging Face LlamaForCausalLM names', () => {
  const names = [...new Llama({ ...tiny, nLayers: 1 }).params.keys()].sort();
  const layer = [
    'q_proj.weight',
    'q_proj.bias',
    'k_proj.weight',
    'k_proj.bias',
    'v_proj.weight',
    'v_proj.bias',
    'o_proj.weight',
  ].map((n) => `model.layers.0.self_attn.${n}`);
  const mlp = ['gate_proj', 'up_proj', 'down_proj'].map((n) => `model.layers.0.mlp.${n}.weight`);
  const norms = [
    'model.layers.0.input_layernorm.weight',
    'model.layers.0.post_attention_layernorm.weight',
    'model.norm.weight',
  ];
  assert.deepEqual(names, ['lm_head.weight', 'model.embed_tokens.weight', ...layer, ...mlp, ...norms].sort());
  const tied = new Llama({ ...tiny, tieWordEmbeddings: true, qkvBias: false, oBias: true });
  assert.ok(!tied.params.has('lm_head.weight'));
  assert.ok(
    tied.params.has('model.layers.0.self_attn.o_proj.bias') && !tied.params.has('model.layers.0.self_attn.q_proj.bias'),
  );
  const m = new Llama(tiny);
  assert.deepEqual(m.params.get('model.layers.1.self_attn.k_proj.weight')!.shape, [2 * 8, 32]); // (Hkv·hd, C): torch Linear layout
});

test('onnxruntime matches the reference interpreter: logits, hidden states, attention maps, present keys', async () => {
  const model = new Llama(tiny);
  const params = randomParams(model, 1);
  const out = model.forward(input('input_ids', [2, 6], 'int64'));
  const outputs = {
    logits: out.logits,
    final: out.final,
    h1: out.hidden[1]!,
    attn1: out.attentions[1]!,
    key0: out.present[0]!.key,
    value1: out.present[1]!.value,
  };
  const feeds = { input_ids: idsOf(2, 6, 7) };
  const [a, b] = await Promise.all([
    runGraph(ort, outputs, params, feeds),
    runGraph(reference, outputs, params, feeds),
  ]);
  for (const name of Object.keys(outputs)) {
    const scale = Math.max(1, ...toNumbers(b[name]!).map(Math.abs));
    const d = maxAbsDiff(a[name]!, b[name]!);
    assert.ok(d <= 1e-4 * scale, `${name}: onnxruntime and reference differ by ${d} (scale ${scale})`);
  }
  assert.deepEqual(a.key0!.shape, [2, 2, 6, 8]);
  assert.deepEqual(a.attn1!.shape, [2, 4, 6, 6]);
});

/** Logits of the last `t - split` positions computed from a cache of the first `split` positions. */
async function cachedTail(model: Llama, params: ParamStore, ids: HostTensor, split: number, positionIds?: boolean) {
  const [b, t] = ids.shape as [number, number];
  const c = model.config;
  const prefixIds = hostTensor(
    'int64',
    [b, split],
    Array.from({ length: b }, (_, i) => [...ids.data.slice(i * t, i * t + split)].map(Number)).flat(),
  );
  const tailIds = hostTensor(
    'int64',
    [b, t - split],
    Array.from({ length: b }, (_, i) => [...ids.data.slice(i * t + split, (i + 1) * t)].map(Number)).flat(),
  );
  const pre = model.forward(input('prefix_ids', [b, split], 'int64'));
  const presentOut = Object.fromEntries(
    pre.present.flatMap((kv, i) => [
      [`k${i}`, kv.key],
      [`v${i}`, kv.value],
    ]),
  );
  const cache = await runGraph(ort, presentOut, params, { prefix_ids: prefixIds });
  const past = pre.present.map((_, i) => ({
    key: input(`past_k${i}`, [b, c.nKvHeads, split, c.headDim]),
    value: input(`past_v${i}`, [b, c.nKvHeads, split, c.headDim]),
  }));
  const pos = positionIds ? { positionIds: input('position_ids', [b, t - split], 'int64') } : {};
  const step = model.forward(input('tail_ids', [b, t - split], 'int64'), { past, ...pos });
  const feeds: Record<string, HostTensor> = { tail_ids: tailIds };
  past.forEach((_, i) => ((feeds[`past_k${i}`] = cache[`k${i}`]!), (feeds[`past_v${i}`] = cache[`v${i}`]!)));
  if (positionIds)
    feeds.position_ids = hostTensor(
      'int64',
      [b, t - split],
      Array.from({ length: b * (t - split) }, (_, k) => split + (k % (t - split))),
    );
  const r = await runGraph(ort, { logits: step.logits, k0: step.present[0]!.key }, params, feeds);
  assert.deepEqual(
    r.k0!.shape,
    [b, c.nKvHeads, t, c.headDim],
    'present keys are past and new ones concatenated on axis 2',
  );
  return r.logits!;
}

test('KV cache: the last positions from a cached prefix equal the full-sequence logits', async () => {
  const model = new Llama(tiny);
  const params = randomParams(model, 2);
  const ids = idsOf(2, 7, 11);
  const full = (
    await runGraph(ort, { logits: model.forward(input('input_ids', [2, 7], 'int64')).logits }, params, {
      input_ids: ids,
    })
  ).logits!;
  const fullData = toNumbers(full);
  const v = tiny.vocabSize;
  for (const [split, posIds] of [
    [6, false],
    [4, false],
    [4, true],
  ] as const) {
    const tail = toNumbers(await cachedTail(model, params, ids, split, posIds));
    const want = Array.from({ length: 2 }, (_, bi) => [
      ...fullData.slice((bi * 7 + split) * v, (bi + 1) * 7 * v),
    ]).flat();
    const d = maxAbsDiff(tail, want);
    assert.ok(
      d < 1e-4,
      `prefix ${split}${posIds ? ' with position ids' : ''}: cached logits differ from full ones by ${d}`,
    );
  }
});

test('position ids gathered from the table equal the built-in positions; a uniform shift changes nothing, other spacings do', async () => {
  const model = new Llama(tiny);
  const params = randomParams(model, 3);
  const ids = idsOf(1, 5, 5);
  const run = async (pos?: number[]) => {
    const positionIds = pos && input('position_ids', [5], 'int64');
    const logits = model.forward(input('input_ids', [1, 5], 'int64'), { positionIds }).logits;
    const feeds = { input_ids: ids, ...(pos ? { position_ids: hostTensor('int64', [5], pos) } : {}) };
    return (await runGraph(ort, { logits }, params, feeds)).logits!;
  };
  const plain = await run();
  assert.ok(maxAbsDiff(plain, await run([0, 1, 2, 3, 4])) < 1e-5);
  // RoPE encodes only distances: shifting every position leaves each q·k, hence the logits, unchanged.
  assert.ok(maxAbsDiff(plain, await run([3, 4, 5, 6, 7])) < 1e-4);
  assert.ok(maxAbsDiff(plain, await run([0, 2, 4, 6, 8])) > 1e-3, 'doubling the distances must change the logits');
});

test('RoPE: position 0 is the identity, and q·k depends only on the distance between positions', async () => {
  const hd = 8;
  const inv = ropeInvFreq(hd, 10000);
  const rand = mulberry32(4);
  const vec = () =>
    constant(
      ndarray(
        [1, 1, 1, hd],
        'float32',
        Array.from({ length: hd }, () => rand() * 2 - 1),
      ),
    );
  const q = vec(),
    k = vec();
  const dotAt = (m: number, n: number): Tensor =>
    reduceSum(mul(applyRope(q, ropeTables(inv, [m])), applyRope(k, ropeTables(inv, [n]))));
  const outs = { same: applyRope(q, ropeTables(inv, [0])), d1: dotAt(5, 2), d2: dotAt(13, 10), d3: dotAt(13, 11) };
  const r = await (await reference.compile(outs)).run({});
  assert.ok(maxAbsDiff(r.same!, q.value!.data) < 1e-7);
  assert.ok(Math.abs(toNumbers(r.d1!)[0]! - toNumbers(r.d2!)[0]!) < 1e-5, 'same distance 3, same dot product');
  assert.ok(Math.abs(toNumbers(r.d1!)[0]! - toNumbers(r.d3!)[0]!) > 1e-4, 'different distance, different dot product');
});

test('llama3 rope scaling keeps high frequencies, divides low ones by the factor', () => {
  const base = ropeInvFreq(64, 500000);
  const scaled = ropeInvFreq(64, 500000, {
    kind: 'llama3',
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: 8192,
  });
  assert.equal(scaled[0], base[0]);
  assert.equal(scaled[31], Math.fround(base[31]! / 8));
  const linear = ropeInvFreq(64, 500000, { kind: 'linear', factor: 2 });
  assert.equal(linear[5], Math.fround(base[5]! / 2));
});

test('gradients reach every parameter through RoPE and grouped-query attention', async () => {
  const model = new Llama({ ...tiny, nLayers: 1 });
  const params = randomParams(model, 5);
  const out = model.forward(input('input_ids', [2, 5], 'int64'));
  const loss = crossEntropy(out.logits, input('labels', [2, 5], 'int64'));
  const ps = [...model.params.values()];
  const grads = grad(loss, ps);
  const outputs = Object.fromEntries(ps.map((p, i) => [`d.${p.name}`, grads[i]!]));
  const r = await runGraph(ort, outputs, params, { input_ids: idsOf(2, 5, 1), labels: idsOf(2, 5, 2) });
  for (const p of ps) {
    const g = toNumbers(r[`d.${p.name}`]!);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), `gradient of ${p.name} is zero or not finite`);
  }
});

test('sequences longer than the sliding window are refused', () => {
  const model = new Llama({ ...tiny, dialect: 'mistral', qkvBias: false, slidingWindow: 4 });
  assert.doesNotThrow(() => model.forward(input('ids', [1, 4], 'int64')));
  assert.throws(() => model.forward(input('ids', [1, 5], 'int64')), /exceed the sliding window of 4/);
});
