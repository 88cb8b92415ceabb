import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gpt2 } from '../models/gpt2/model.ts';
import { Llama } from '../models/llama/model.ts';
import { ParamStore, ReferenceExecutor } from '../runtime/index.ts';
import { Generator } from './generator.ts';
import { roundCapacity } from './steppers.ts';
import type { DecoderModel, Detokenizer, GenerateOptions } from './types.ts';

/** Random weights scaled up so tiny models make confident, varied predictions (no near-ties). */
function randomParams(model: DecoderModel, seed: number, scale = 8): ParamStore {
  const params = ParamStore.init(model.params.values(), seed);
  for (const [name, v] of params.values) {
    if (v.shape.length !== 2) continue;
    const d = v.data as Float32Array;
    const s = name.includes('wpe') ? 30 : scale; // positions must matter, or outputs repeat one token
    for (let i = 0; i < d.length; i++) d[i]! *= s;
  }
  return params;
}

const gpt2 = new Gpt2({ vocabSize: 40, maxPositions: 48, dModel: 32, nLayers: 2, nHeads: 4 });
const llama = new Llama({
  vocabSize: 40,
  maxPositions: 48,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  mlpHidden: 48,
});
const models: [string, Generator][] = [
  ['GPT-2', new Generator(gpt2, randomParams(gpt2, 1), { threads: 1 })],
  ['Llama (GQA, RoPE)', new Generator(llama, randomParams(llama, 2, 6), { threads: 1 })],
];
const [, gen] = models[0]!;
const prompts = [[1, 2, 3], [7, 8, 9, 10, 11, 12, 13], [20]];

/** Letters for ids, so generated text is readable in failures. */
const letters: Detokenizer = { decode: (ids) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };

for (const [name, g] of models) {
  test(`${name}: greedy generation is the same with the KV cache and without`, async () => {
    const o: GenerateOptions = { maxNewTokens: 24, eosTokenId: [] };
    const cached = await g.generate(prompts, o);
    const full = await g.generate(prompts, { ...o, useCache: false });
    assert.deepEqual(cached.tokens, full.tokens);
    assert.ok(
      cached.tokens.every((t) => new Set(t).size > 3),
      `outputs should vary: ${JSON.stringify(cached.tokens)}`,
    );
  });

  test(`${name}: a batch of left-padded prompts gives each row what it gives alone`, async () => {
    const o: GenerateOptions = { maxNewTokens: 16, eosTokenId: [] };
    const batch = await g.generate(prompts, o);
    for (const [r, p] of prompts.entries())
      assert.deepEqual((await g.generate([p], o)).tokens[0], batch.tokens[r], `row ${r}`);
    // Sampling too: row r of a batch seeded with s draws what the prompt alone seeded with s + r draws.
    const s: GenerateOptions = { ...o, temperature: 1, topK: 10, seed: 100 };
    const sampled = await g.generate(prompts, s);
    for (const [r, p] of prompts.entries())
      assert.deepEqual((await g.generate([p], { ...s, seed: 100 + r })).tokens[0], sampled.tokens[r]);
  });
}

test('seeded sampling is reproducible, and another seed gives another output', async () => {
  const o: GenerateOptions = {
    maxNewTokens: 20,
    temperature: 1.2,
    topP: 0.95,
    repetitionPenalty: 1.1,
    seed: 3,
    eosTokenId: [],
  };
  const a = await gen.generate(prompts, o);
  const b = await gen.generate(prompts, o);
  const c = await gen.generate(prompts, { ...o, seed: 4 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

test('stop strings stop a row; the text ends before the stop string, other rows go on', async () => {
  const o: GenerateOptions = { maxNewTokens: 20, tokenizer: letters, eosTokenId: [] };
  const free = await gen.generate(prompts, o);
  const text0 = free.text![0]!;
  const stop = text0.slice(6, 8);
  const cut = text0.indexOf(stop);
  const res = await gen.generate(prompts, { ...o, stop: [stop] });
  assert.equal(res.finishReasons[0], 'stop');
  assert.equal(res.text![0], text0.slice(0, cut));
  assert.deepEqual(res.tokens[0], free.tokens[0]!.slice(0, cut + stop.length));
  for (const r of [1, 2]) {
    if (free.text![r]!.includes(stop)) continue;
    assert.equal(res.finishReasons[r], 'length');
    assert.deepEqual(res.tokens[r], free.tokens[r]);
  }
});

test('an end-of-sequence token ends its row, and its text is not shown', async () => {
  const free = await gen.generate([prompts[1]!], { maxNewTokens: 12, eosTokenId: [] });
  const eos = free.tokens[0]![4]!;
  const first = free.tokens[0]!.indexOf(eos);
  const res = await gen.generate([prompts[1]!], { maxNewTokens: 12, eosTokenId: eos, tokenizer: letters });
  assert.equal(res.finishReasons[0], 'eos');
  assert.deepEqual(res.tokens[0], free.tokens[0]!.slice(0, first + 1));
  assert.equal(res.text![0], letters.decode(free.tokens[0]!.slice(0, first)));
});

test('streaming yields every token as it is made; text deltas add up to the final text', async () => {
  const o: GenerateOptions = { maxNewTokens: 10, tokenizer: letters, eosTokenId: [] };
  const whole = await gen.generate(prompts, o);
  const tokens: number[][] = prompts.map(() => []),
    text = prompts.map(() => '');
  const order: number[] = [];
  for await (const e of gen.stream(prompts, o)) {
    tokens[e.row]!.push(e.token);
    text[e.row] += e.text;
    order.push(e.row);
    assert.equal(e.finishReason !== undefined, tokens[e.row]!.length === 10);
  }
  assert.deepEqual(tokens, whole.tokens);
  assert.deepEqual(text, whole.text);
  assert.deepEqual(order.slice(0, 6), [0, 1, 2, 0, 1, 2], 'one event per row per step, in step order');
});

test('the reference interpreter (parameters fed, not baked) generates what onnxruntime does', async () => {
  const ref = new Generator(gpt2, randomParams(gpt2, 1), { executor: new ReferenceExecutor() });
  const o: GenerateOptions = { maxNewTokens: 4, eosTokenId: [] };
  assert.deepEqual(
    (await ref.generate(prompts.slice(0, 2), o)).tokens,
    (await gen.generate(prompts.slice(0, 2), o)).tokens,
  );
});

test('bad requests fail with the reason', async () => {
  await assert.rejects(gen.generate([[1, 2]], { maxNewTokens: 47 }), /model's 48 positions/);
  await assert.rejects(gen.generate([[]], { maxNewTokens: 2 }), /prompt 0 is empty/);
  await assert.rejects(gen.generate([[40]], { maxNewTokens: 2 }), /outside the vocabulary/);
  await assert.rejects(gen.generate([[1]], { maxNewTokens: 2, stop: ['x'] }), /tokenizer/);
  await assert.rejects(gen.generate([[1], [2]], { maxNewTokens: 2, seed: [1] }), /one per prompt/);
});

test("weights: 'shared' feeds every program the one copy; 'baked' and 'auto' (a small model) bake them, same tokens", async () => {
  const params = randomParams(llama, 2, 6);
  const o: GenerateOptions = { maxNewTokens: 8, eosTokenId: [] };
  const compiled = (g: Generator) => {
    const cap = roundCapacity(7 + o.maxNewTokens - 1, llama.config.maxPositions - 1);
    const never = () => {
      throw new Error('generate should have compiled this program');
    };
    return Promise.all([`prefill_3x7`, `decode_3x${cap}`].map((key) => g.runner.program(key, never)));
  };
  const paramInputs = (p: { inputs: readonly { kind: string; name: string }[] }) =>
    p.inputs.filter((s) => s.kind === 'param').map((s) => s.name);
  const shared = new Generator(llama, params, { threads: 1, weights: 'shared' });
  const want = await shared.generate(prompts, o);
  for (const p of await compiled(shared)) assert.deepEqual(paramInputs(p).sort(), [...llama.params.keys()].sort());
  for (const weights of ['baked', 'auto'] as const) {
    const baked = new Generator(llama, params, { threads: 1, weights });
    assert.deepEqual((await baked.generate(prompts, o)).tokens, want.tokens, weights);
    for (const p of await compiled(baked)) assert.deepEqual(paramInputs(p), [], weights);
  }
});
