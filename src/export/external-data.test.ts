// Exports whose weights sit in `<file>_data` beside each ONNX file (forced here with externalData:
// true; 'auto' does it for files over 1 GiB, scripts/check-large-model.ts checks one over 2 GiB),
// reloaded in plain onnxruntime-node and transformers.js.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Generator } from '../generate/generator.ts';
import { Llama } from '../models/llama/model.ts';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { onnxFileBytes, readOnnxFile } from '../onnx/index.ts';
import { ParamStore } from '../runtime/index.ts';
import { loadTransformersJs } from './testing.ts';
import { exportDecoderOnnx } from './decoder.ts';

// Loaded before any test is declared: the root's after() hook must not run while this is awaited.
const tjs = await loadTransformersJs();

const root = mkdtempSync(join(tmpdir(), 'retort-export-ext-'));
after(() => rmSync(root, { recursive: true, force: true }));

const FILES = ['model.onnx', 'model_quantized.onnx', 'model_q4.onnx', 'model_fp16.onnx', 'model_q4f16.onnx'];
const tok = CharTokenizer.fromCorpus(['the quick brown fox jumps over the lazy dog']);
const model = new Llama({
  vocabSize: tok.vocabSize,
  maxPositions: 48,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  mlpHidden: 48,
});
const params = ParamStore.init(model.params.values(), 3);
// Sharper predictions than the default init, so greedy decoding has no near-ties.
for (const v of params.values.values())
  if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, d) => (d[i] = x * 6));
const all = { tokenizer: tok, int8: true, q4: true, fp16: true, q4f16: true } as const;
const inline = exportDecoderOnnx(model, params, join(root, 'inline'), all);
const external = exportDecoderOnnx(model, params, join(root, 'external'), { ...all, externalData: true });

async function logits(path: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const [b, t] = [2, 5];
  const i64 = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      i64(b * t, (i) => (i * 7 + 3) % tok.vocabSize),
      [b, t],
    ),
    attention_mask: new ort.Tensor(
      'int64',
      i64(b * t, () => 1),
      [b, t],
    ),
    position_ids: new ort.Tensor(
      'int64',
      i64(b * t, (i) => i % t),
      [b, t],
    ),
  };
  for (const name of s.inputNames.filter((n) => n.startsWith('past_key_values')))
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), [b, 2, 0, 8]);
  return (await s.run(feeds)).logits!.data as Float32Array;
}

test('every ONNX variant keeps its weights in its own <file>_data, named in config.json for transformers.js', () => {
  assert.deepEqual(inline.externalData, []);
  assert.deepEqual(external.externalData, FILES);
  for (const f of FILES) {
    const path = join(external.dir, 'onnx', f);
    assert.ok(existsSync(`${path}_data`), `${f}_data`);
    assert.ok(external.files.includes(`onnx/${f}_data`), `${f}_data is listed among the files written`);
    const oneFile = statSync(join(inline.dir, 'onnx', f)).size;
    assert.ok(statSync(path).size < oneFile, `${f} holds the graph, its data file the weight matrices`);
    assert.equal(existsSync(join(inline.dir, 'onnx', `${f}_data`)), false);
  }
  assert.equal(external.modelBytes, onnxFileBytes(join(external.dir, 'onnx', 'model.onnx')));
  const config = JSON.parse(readFileSync(join(external.dir, 'config.json'), 'utf8'));
  assert.deepEqual(config['transformers.js_config'], {
    use_external_data_format: Object.fromEntries(FILES.map((f) => [f, 1])),
  });
  assert.equal(JSON.parse(readFileSync(join(inline.dir, 'config.json'), 'utf8'))['transformers.js_config'], undefined);
});

test('onnxruntime-node loads each external-data file from its path and computes what the one-file export does', async () => {
  for (const f of FILES) {
    const want = await logits(join(inline.dir, 'onnx', f));
    assert.deepEqual(await logits(join(external.dir, 'onnx', f)), want, f);
  }
  // Retort reads them back whole too: the same initializers as the one-file export.
  const a = readOnnxFile(join(inline.dir, 'onnx', 'model.onnx')).graph.initializers;
  const b = readOnnxFile(join(external.dir, 'onnx', 'model.onnx')).graph.initializers;
  assert.deepEqual(
    b.map((t) => [t.name, Buffer.from(t.rawData).toString('base64')]),
    a.map((t) => [t.name, Buffer.from(t.rawData).toString('base64')]),
  );
});

test('transformers.js loads the external-data export (fp32, q8, fp16) and generates the tokens Retort generates', {
  skip: tjs ? false : '@huggingface/transformers is not installed: run bash scripts/install-clients.sh (npm test does)',
}, async () => {
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = root;
  const prompt = tok.encode('the quick');
  const want = (await new Generator(model, params).generate([prompt], { maxNewTokens: 12, eosTokenId: [] })).tokens[0];
  for (const dtype of ['fp32', 'q8', 'fp16']) {
    const m = await tjs.AutoModelForCausalLM.from_pretrained('external', { dtype, device: 'cpu' });
    const input_ids = new tjs.Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
    const attention_mask = new tjs.Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
    const out = await m.generate({ input_ids, attention_mask, max_new_tokens: 12, do_sample: false });
    assert.deepEqual(Array.from(out.data, Number).slice(prompt.length), want, dtype);
    await m.dispose();
  }
});
