// GGUF files run in llama.cpp itself (node-llama-cpp's prebuilt CPU build, installed into .clients/
// by scripts/install-clients.sh, which npm test runs when this file is selected). For GPT-2, Llama
// and Qwen2 students and every file type: llama.cpp loads the file, its tokenizer splits text into
// Retort's ids, and greedy decoding gives Retort's tokens: all of them for F32 and F16, the first
// half for Q8_0, the first for Q4_0; where each quantized file first diverges from the fp32 model
// is printed (llama.cpp also rounds activations to 8 bits in quantized products).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadSotu } from '../../data/sotu.ts';
import { Generator } from '../../generate/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { Llama } from '../../models/index.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import type { DecoderModel } from '../../models/types.ts';
import { ParamStore } from '../../runtime/index.ts';
import { exportGguf, type GgufFileType } from './index.ts';

const CLIENT = join(import.meta.dirname, '../../../.clients/node_modules/node-llama-cpp/dist/index.js');
const have = existsSync(CLIENT);
const dir = mkdtempSync(join(tmpdir(), 'retort-llama-cpp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = loadSotu()
  .slice(0, 4)
  .map((s) => s.text)
  .join('\n');
const tokenizer = trainByteLevelBpe([text], { vocabSize: 384 });
const PROMPT = 'Fellow citizens of the Senate and House';
const NEW = 12;
const families: Record<string, () => DecoderModel> = {
  gpt2: () =>
    new Gpt2({
      vocabSize: 384,
      maxPositions: 128,
      dModel: 64,
      nLayers: 2,
      nHeads: 2,
      tieWordEmbeddings: false,
      eosTokenId: 0,
    } as never) as never,
  llama: () =>
    new Llama({
      vocabSize: 384,
      maxPositions: 128,
      dModel: 64,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      mlpHidden: 128,
      dialect: 'llama',
      eosTokenId: 0,
    } as never) as never,
  qwen2: () =>
    new Llama({
      vocabSize: 384,
      maxPositions: 128,
      dModel: 64,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      mlpHidden: 128,
      dialect: 'qwen2',
      eosTokenId: 0,
    } as never) as never,
};

/** Random weights scaled up, so next-token distributions are peaked and greedy decoding is not a coin toss between near-ties. */
function weights(model: DecoderModel, seed: number): ParamStore {
  const p = ParamStore.init(model.params.values(), seed);
  for (const [, v] of p.values) if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 8));
  return p;
}

const firstDivergence = (a: readonly number[], b: readonly number[]) => {
  const i = a.findIndex((x, k) => x !== b[k]);
  return i < 0 ? 'none' : `token ${i}`;
};

test('GGUF files load and generate in llama.cpp (node-llama-cpp): Retort tokens for F32/F16, the first ones for Q8_0/Q4_0', {
  skip: !have && 'node-llama-cpp is not installed: run bash scripts/install-clients.sh (npm test does)',
}, async () => {
  // The client is not a dependency of Retort, so its types are not either: the two calls used, typed here.
  type Llama = { loadModel(o: { modelPath: string }): Promise<LlamaModel> };
  type LlamaModel = {
    tokenize(text: string): number[];
    createContext(o: { contextSize: number }): Promise<LlamaContext>;
    dispose(): Promise<void>;
  };
  type LlamaContext = {
    getSequence(): { evaluate(ids: number[], o: { temperature: number }): AsyncIterable<number> };
    dispose(): Promise<void>;
  };
  const { getLlama } = (await import(pathToFileURL(CLIENT).href)) as { getLlama(o: object): Promise<Llama> };
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const ids = tokenizer.encode(PROMPT);
  const report: string[] = [];
  for (const [family, make] of Object.entries(families)) {
    const model = make();
    const params = weights(model, 3);
    const expected = (await new Generator(model, params).generate([ids], { maxNewTokens: NEW, eosTokenId: [] }))
      .tokens[0]!;
    for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as GgufFileType[]) {
      const path = join(dir, `${family}-${type}.gguf`);
      exportGguf(model, params, path, { type, tokenizer });
      const m = await llama.loadModel({ modelPath: path });
      assert.deepEqual(m.tokenize(PROMPT), ids, `${family} ${type}: llama.cpp's tokenizer gives Retort's ids`);
      const ctx = await m.createContext({ contextSize: 128 });
      const got: number[] = [];
      for await (const t of ctx.getSequence().evaluate(ids, { temperature: 0 })) {
        got.push(t);
        if (got.length === NEW) break;
      }
      await ctx.dispose();
      await m.dispose();
      assert.equal(got.length, NEW, `${family} ${type}: generated ${NEW} tokens`);
      if (type === 'f32' || type === 'f16')
        assert.deepEqual(got, expected, `${family} ${type}: Retort's greedy tokens`);
      // 8-bit rounding (weights, and llama.cpp's activations) leaves these peaked choices alone for the first half at least.
      if (type === 'q8_0')
        assert.deepEqual(
          got.slice(0, NEW / 2),
          expected.slice(0, NEW / 2),
          `${family} q8_0: Retort's first ${NEW / 2} greedy tokens`,
        );
      if (type === 'q4_0') assert.equal(got[0], expected[0], `${family} q4_0: the prompt's next token`);
      report.push(`${family} ${type}: first divergence from fp32 Retort ${firstDivergence(got, expected)}`);
    }
  }
  console.log(report.join('\n'));
});
