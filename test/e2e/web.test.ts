// The browser demo in headless Chromium, served by `retort web`'s server from 127.0.0.1: the page
// tokenizes with Tokenizers.js, runs the exported ONNX with onnxruntime-web (WebAssembly), and must
// produce the same token ids as onnxruntime-node on the same file, and the same greedy tokens as
// Retort's own generator on the model it was exported from.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { classificationEval, encodeExamples } from '../../src/distill/classify/index.ts';
import { exportClassifierOnnx } from '../../src/export/index.ts';
import { startWebServer, type RunningWebServer } from '../../src/cli/web/server.ts';
import { loadSotu } from '../../src/data/sotu.ts';
import { InferenceProgram } from '../../src/eval/index.ts';
import { exportDecoderOnnx } from '../../src/export/index.ts';
import { Generator } from '../../src/generate/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { SequenceClassifier } from '../../src/models/classifier/index.ts';
import { Gpt2 } from '../../src/models/gpt2/model.ts';
import { trainByteLevelBpe } from '../../src/models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../../src/runtime/index.ts';
import { classify, greedyGenerate } from '../../web/lm.js';
import { collectErrors, launchChromium, type Browser } from './chromium.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-web-e2e-'));
let browser: Browser;
const servers: RunningWebServer[] = [];
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  rmSync(root, { recursive: true, force: true });
});

const text = loadSotu()
  .slice(0, 3)
  .map((s) => s.text)
  .join('\n\n');
const tokenizer = trainByteLevelBpe([text], { vocabSize: 320 });

/** Random weights, scaled up so the logits have clear winners (no near-ties between runtimes). */
function sharpParams(params: Iterable<Tensor>, seed: number): ParamStore {
  const store = ParamStore.init(params, seed);
  for (const v of store.values.values())
    if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 5));
  return store;
}

interface PageResult {
  ready: boolean;
  done: boolean;
  error: string | null;
  promptIds?: number[];
  ids?: number[];
  probs?: number[];
  label?: number;
  variant?: string;
}

async function runPage(url: string): Promise<PageResult> {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const s = (window as unknown as { retortWeb?: PageResult }).retortWeb;
      return !!s && (s.done || s.error !== null);
    },
    undefined,
    { timeout: 60_000 },
  );
  const state = await page.evaluate(() => (window as unknown as { retortWeb: PageResult }).retortWeb);
  await page.close();
  assert.equal(state.error, null, `the page failed: ${state.error}`);
  assert.deepEqual(errors, [], 'no console errors');
  const origin = new URL(url).origin;
  assert.deepEqual(
    requests.filter((r) => !r.startsWith(origin)),
    [],
    'the page fetches nothing but its own server',
  );
  return state;
}

test("greedy generation in the browser (onnxruntime-web) gives onnxruntime-node's token ids and Retort's", async () => {
  const config = {
    vocabSize: tokenizer.vocabSize,
    maxPositions: 48,
    dModel: 32,
    nLayers: 2,
    nHeads: 4,
    tieWordEmbeddings: false,
  };
  const model = new Gpt2(config);
  const params = sharpParams(model.params.values(), 7);
  const dir = join(root, 'lm');
  exportDecoderOnnx(model, params, dir, { int8: true, tokenizer });
  const web = await startWebServer({ dir, port: 0 });
  servers.push(web);

  const prompt = 'Fellow-Citizens of the Senate and';
  const tokens = 20;
  const page = await runPage(`${web.url}?prompt=${encodeURIComponent(prompt)}&tokens=${tokens}&auto=1`);
  assert.deepEqual(page.promptIds, tokenizer.encode(prompt), 'the browser tokenizes as Node does');
  assert.equal(page.ids!.length, tokens);

  const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  const node = await greedyGenerate(ort, session, hf, tokenizer.encode(prompt), { maxNewTokens: tokens });
  assert.deepEqual(page.ids, node, 'onnxruntime-web and onnxruntime-node choose the same tokens');

  const retort = await new Generator(model, params).generate([tokenizer.encode(prompt)], {
    maxNewTokens: tokens,
    eosTokenId: [],
  });
  assert.deepEqual(page.ids, retort.tokens[0], "and so does Retort's own generator (KV cache, greedy)");
  assert.ok(new Set(node).size > 1, 'the model does not repeat one token (the check would be weak)');

  const int8 = await runPage(`${web.url}?model=int8&prompt=${encodeURIComponent(prompt)}&tokens=4&auto=1`);
  assert.equal(int8.variant, 'int8');
  assert.equal(int8.ids!.length, 4);

  // With a 4-bit file in the export the page loads it by default, and picks what onnxruntime-node picks on that file.
  const q4dir = join(root, 'lm-q4');
  exportDecoderOnnx(model, params, q4dir, { q4: true, tokenizer });
  const q4web = await startWebServer({ dir: q4dir, port: 0 });
  servers.push(q4web);
  const q4 = await runPage(`${q4web.url}?prompt=${encodeURIComponent(prompt)}&tokens=8&auto=1`);
  assert.equal(q4.variant, 'q4');
  const q4session = await ort.InferenceSession.create(join(q4dir, 'onnx', 'model_q4.onnx'));
  assert.deepEqual(
    q4.ids,
    await greedyGenerate(ort, q4session, hf, tokenizer.encode(prompt), { maxNewTokens: 8 }),
    'MatMulNBits in onnxruntime-web (wasm) and in onnxruntime-node agree',
  );
});

test("classification in the browser gives onnxruntime-node's probabilities and label", async () => {
  const seq = 24;
  const model = new SequenceClassifier({
    body: {
      family: 'gpt2',
      config: { vocabSize: tokenizer.vocabSize, maxPositions: seq, dModel: 32, nLayers: 1, nHeads: 4 },
    },
    numLabels: 2,
    pooling: 'mean',
    labels: ['ham', 'spam'],
  });
  const params = sharpParams(model.params.values(), 3);
  const dir = join(root, 'classifier');
  exportClassifierOnnx(model, params, dir, { seq, tokenizer });
  const web = await startWebServer({ dir, port: 0 });
  servers.push(web);

  const email = 'We the People of the United States, in Order to form a more perfect Union';
  const page = await runPage(`${web.url}?text=${encodeURIComponent(email)}&auto=1`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  const node = await classify(ort, session, config, tokenizer.encode(email), 0);
  assert.equal(page.label, node.label);
  page.probs!.forEach((p, i) => assert.ok(Math.abs(p - node.probs[i]!) < 1e-4, `p[${i}] ${p} vs ${node.probs[i]}`));

  // And the exported file agrees with the model it came from (batch of one, padded like the page).
  const ex = encodeExamples([{ text: email, label: 0 }], tokenizer, seq, 0);
  const [batch] = [...classificationEval(ex, { batch: 1 }).batches()];
  const direct = await (await InferenceProgram.create({ name: 'c', model, params }, 1, seq)).logits({
    input_ids: batch!.input_ids,
    attention_mask: batch!.attention_mask,
  });
  Array.from(direct.data as Float32Array).forEach((z, i) =>
    assert.ok(Math.abs(z - node.logits[i]!) < 1e-3, `logit ${i}: ${z} vs ${node.logits[i]}`),
  );
});
