// The end-to-end check of a model over protobuf's 2 GiB limit, outside npm test (minutes, ~6 GB):
// a Qwen2.5-0.5B-shaped decoder with untied embeddings (630M parameters, 2.5 GB in fp32) with
// random weights is saved as a Hugging Face folder, loaded back, asked for a few greedy tokens,
// exported to ONNX (onnx/model.onnx + onnx/model.onnx_data), and the export is run by plain
// onnxruntime-node (an InferenceSession on the file's path, a growing cache), which must pick the
// same tokens.
//   node --expose-gc --import tsx scripts/check-large-model.ts [work dir]   (default: a temp folder, removed after)
// Prints each stage's time and RSS, the peak RSS (VmHWM), and exits 1 when the tokens differ.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportDecoderOnnx } from '../src/export/index.ts';
import { Generator } from '../src/generate/index.ts';
import { loadHfModel, saveHfModel } from '../src/models/hf/index.ts';
import { Llama } from '../src/models/llama/model.ts';
import type { DecoderModel } from '../src/models/types.ts';
import { ParamStore } from '../src/runtime/index.ts';

// Qwen/Qwen2.5-0.5B's config.json, but with tie_word_embeddings false: the separate lm_head adds
// 136M parameters and takes fp32 past 2 GiB.
const CONFIG = {
  dialect: 'qwen2',
  vocabSize: 151936,
  maxPositions: 32768,
  dModel: 896,
  nLayers: 24,
  nHeads: 14,
  nKvHeads: 2,
  mlpHidden: 4864,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  tieWordEmbeddings: false,
} as const;
const PROMPT = [9707, 11, 1879, 0, 358, 1079, 264, 1614];
const NEW_TOKENS = 6;

const status = (field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 2 ** 20; // GiB
const gc = (globalThis as { gc?: () => void }).gc;
const started = performance.now();
async function stage<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  gc?.();
  console.log(
    `${name.padEnd(44)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s   RSS ${status('VmRSS').toFixed(2)} GiB`,
  );
  return out;
}

const argmax = (x: Float32Array, from: number, n: number): number => {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[from + j]! > x[from + best]!) best = j;
  return best;
};

/** Greedy tokens from the exported file in plain onnxruntime, the cache fed back as transformers.js does. */
async function onnxGreedy(path: string, c: typeof CONFIG): Promise<number[]> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 2 });
  const headDim = c.dModel / c.nHeads;
  let past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < c.nLayers; i++)
    for (const kv of ['key', 'value'])
      past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.nKvHeads, 0, headDim]);
  const tokens: number[] = [];
  let fed = PROMPT,
    total = 0;
  for (let step = 0; step < NEW_TOKENS; step++) {
    total += fed.length;
    const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
    const out = await session.run({
      input_ids: i64(fed),
      attention_mask: i64(new Array<number>(total).fill(1)),
      position_ids: i64(fed.map((_, i) => total - fed.length + i)),
      ...past,
    });
    tokens.push(argmax(out.logits!.data as Float32Array, (fed.length - 1) * c.vocabSize, c.vocabSize));
    past = {};
    for (let i = 0; i < c.nLayers; i++)
      for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`]!;
    fed = [tokens.at(-1)!];
  }
  await session.release();
  return tokens;
}

const work = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'retort-large-'));
const [hfDir, exportDir] = [join(work, 'hf'), join(work, 'export')];
if (!gc) console.log('(run with node --expose-gc for RSS figures after each stage is collected)');
try {
  await stage('random weights, saved as a Hugging Face folder', () => {
    const model = new Llama(CONFIG);
    const params = ParamStore.init(model.params.values(), 0);
    console.log(
      `  ${params.count().toLocaleString()} parameters, ${((params.count() * 4) / 2 ** 30).toFixed(2)} GiB fp32`,
    );
    saveHfModel(hfDir, model, params);
  });
  let loaded: ReturnType<typeof loadHfModel> | undefined = await stage('loaded back (loadHfModel)', () =>
    loadHfModel(hfDir),
  );
  const model = loaded.model as DecoderModel;
  const want = await stage(`${NEW_TOKENS} greedy tokens (Generator, KV cache)`, async () => {
    const gen = new Generator(model, loaded!.params, { threads: 2 });
    return (await gen.generate([PROMPT], { maxNewTokens: NEW_TOKENS, eosTokenId: [] })).tokens[0]!;
  });
  const exported = await stage('exported to ONNX (exportDecoderOnnx)', () =>
    exportDecoderOnnx(model, loaded!.params, exportDir),
  );
  const file = join(exportDir, 'onnx', 'model.onnx');
  console.log(
    `  ${exported.files.filter((f) => f.startsWith('onnx/')).join(', ')}: model.onnx ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, ` +
      `model.onnx_data ${existsSync(`${file}_data`) ? (statSync(`${file}_data`).size / 2 ** 30).toFixed(2) : '(none)'} GiB`,
  );
  loaded = undefined; // onnxruntime loads the file on its own: the weights leave this process's heap first
  const got = await stage(`${NEW_TOKENS} greedy tokens, plain onnxruntime on the file`, () => onnxGreedy(file, CONFIG));
  console.log(`  Retort:      ${want.join(', ')}\n  onnxruntime: ${got.join(', ')}`);
  console.log(
    `total ${((performance.now() - started) / 1000).toFixed(0)} s, peak RSS ${status('VmHWM').toFixed(2)} GiB: ${
      got.join() === want.join() ? 'same tokens' : 'DIFFERENT TOKENS'
    }`,
  );
  if (got.join() !== want.join()) process.exitCode = 1;
} finally {
  if (!process.argv[2]) rmSync(work, { recursive: true, force: true });
}
