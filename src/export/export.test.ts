// The exported folder is checked with plain onnxruntime-node (an InferenceSession on the file path,
// none of Retort's runtime), against Retort's forward run by the float64 reference interpreter.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { greater, input, reshape, type Tensor } from '../graph/index.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { Llama } from '../models/llama/model.ts';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { decodeModel } from '../onnx/index.ts';
import { hostTensor, mulberry32, ParamStore, ReferenceExecutor, type HostTensor } from '../runtime/index.ts';
import { Generator } from '../generate/generator.ts';
import type { DecoderModel } from '../generate/types.ts';
import { loadTransformersJs } from './testing.ts';
import { exportDecoderOnnx } from './decoder.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-export-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Case {
  b: number;
  t: number;
  p: number;
  ids: number[];
  /** (B, P+T) 1 = attend */
  mask: number[];
  pos: number[];
  past: Float32Array[];
}

interface Net {
  model: DecoderModel;
  params: ParamStore;
  layers: number;
  heads: number;
  headDim: number;
}

/** Retort's forward at one concrete shape, with the same inputs the exported graph takes. */
async function retortForward(net: Net, c: Case): Promise<Record<string, HostTensor>> {
  const { b, t, p } = c;
  const ids = input('input_ids', [b, t], 'int64');
  const mask = input('attention_mask', [b, p + t], 'int64');
  const positionIds = input('position_ids', [b, t], 'int64');
  const past = Array.from({ length: net.layers }, (_, i) => ({
    key: input(`past_key_values.${i}.key`, [b, net.heads, p, net.headDim]),
    value: input(`past_key_values.${i}.value`, [b, net.heads, p, net.headDim]),
  }));
  const keep = reshape(greater(mask, 0), [b, 1, 1, p + t]);
  const out = net.model.forward(ids, { past: p > 0 ? past : undefined, positionIds, keep });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((kv, i) =>
    Object.assign(outputs, { [`present.${i}.key`]: kv.key, [`present.${i}.value`]: kv.value }),
  );
  const feeds: Record<string, HostTensor> = {
    ...Object.fromEntries(net.params.values),
    input_ids: hostTensor('int64', [b, t], c.ids),
    attention_mask: hostTensor('int64', [b, p + t], c.mask),
    position_ids: hostTensor('int64', [b, t], c.pos),
  };
  if (p > 0)
    past.forEach((kv, i) =>
      Object.assign(feeds, {
        [kv.key.name!]: hostTensor('float32', kv.key.shape, c.past[2 * i]!),
        [kv.value.name!]: hostTensor('float32', kv.value.shape, c.past[2 * i + 1]!),
      }),
    );
  const program = await new ReferenceExecutor().compile(outputs);
  const needed = new Set(program.inputs.map((s) => s.name));
  return program.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => needed.has(k))));
}

async function onnxForward(session: ort.InferenceSession, net: Net, c: Case): Promise<Record<string, Float32Array>> {
  const i64 = (xs: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), dims);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: i64(c.ids, [c.b, c.t]),
    attention_mask: i64(c.mask, [c.b, c.p + c.t]),
    position_ids: i64(c.pos, [c.b, c.t]),
  };
  for (let i = 0; i < net.layers; i++) {
    const dims = [c.b, net.heads, c.p, net.headDim];
    feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', c.past[2 * i] ?? new Float32Array(0), dims);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', c.past[2 * i + 1] ?? new Float32Array(0), dims);
  }
  const out = await session.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A batch with the given prompt lengths, left-padded to t, after p cached positions. */
function makeCase(net: Net, lens: number[], t: number, p: number, seed: number, past: Float32Array[] = []): Case {
  const rng = mulberry32(seed);
  const b = lens.length,
    V = net.model.config.vocabSize;
  const ids: number[] = [],
    mask: number[] = [],
    pos: number[] = [];
  for (const len of lens) {
    const pad = t - len;
    for (let j = 0; j < p; j++) mask.push(1);
    for (let j = 0; j < t; j++) {
      ids.push(j < pad ? 0 : Math.floor(rng() * V));
      mask.push(j < pad ? 0 : 1);
      pos.push(Math.max(0, p + j - pad));
    }
  }
  return { b, t, p, ids, mask, pos, past };
}

function build(model: DecoderModel, seed: number): Net {
  const present = model.forward(input('input_ids', [1, 1], 'int64')).present;
  return {
    model,
    params: ParamStore.init(model.params.values(), seed),
    layers: present.length,
    heads: present[0]!.key.shape[1]!,
    headDim: present[0]!.key.shape[3]!,
  };
}

const nets: [string, Net][] = [
  ['GPT-2', build(new Gpt2({ vocabSize: 50, maxPositions: 32, dModel: 32, nLayers: 2, nHeads: 4 }), 1)],
  [
    'Llama (GQA)',
    build(
      new Llama({ vocabSize: 50, maxPositions: 32, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, mlpHidden: 40 }),
      2,
    ),
  ],
];

for (const [name, net] of nets) {
  test(`${name}: one exported file matches Retort's forward at several lengths, with padding and with past keys/values`, async () => {
    const dir = join(root, name.replace(/\W+/g, '_'));
    exportDecoderOnnx(net.model, net.params, dir);
    const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
    const check = async (what: string, c: Case) => {
      const want = await retortForward(net, c);
      const got = await onnxForward(session, net, c);
      for (const k of Object.keys(want)) {
        const d = maxDiff(got[k]!, want[k]!.data as Float32Array);
        assert.ok(d < 1e-4, `${what}: '${k}' differs by ${d}`);
      }
      return got;
    };
    await check('B=1 T=9', makeCase(net, [9], 9, 0, 1));
    const first = await check('B=2 T=4 (one row left-padded)', makeCase(net, [4, 2], 4, 0, 2));
    const past = Array.from(
      { length: 2 * net.layers },
      (_, k) => first[`present.${k >> 1}.${k & 1 ? 'value' : 'key'}`]!,
    );
    await check('B=2 T=3 after 4 cached', makeCase(net, [3, 3], 3, 4, 3, past));
    await check('B=2 T=1 after 4 cached', makeCase(net, [1, 1], 1, 4, 4, past));
  });
}

test('decoding with past keys/values gives the logits of running the whole sequence', async () => {
  const [, net] = nets[0]!;
  const dir = join(root, 'past');
  exportDecoderOnnx(net.model, net.params, dir);
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  const whole = makeCase(net, [7], 7, 0, 9);
  const full = await onnxForward(session, net, whole);
  const head = await onnxForward(session, net, {
    ...whole,
    t: 4,
    ids: whole.ids.slice(0, 4),
    mask: whole.mask.slice(0, 4),
    pos: whole.pos.slice(0, 4),
  });
  const past = Array.from({ length: 2 * net.layers }, (_, k) => head[`present.${k >> 1}.${k & 1 ? 'value' : 'key'}`]!);
  const tail = await onnxForward(session, net, {
    b: 1,
    t: 3,
    p: 4,
    ids: whole.ids.slice(4),
    mask: whole.mask,
    pos: whole.pos.slice(4),
    past,
  });
  const V = net.model.config.vocabSize;
  assert.ok(maxDiff(tail.logits!, full.logits!.subarray(4 * V)) < 1e-4);
});

test('the export holds standard ONNX ops only, with the transformers.js names and symbolic dims', () => {
  const [, net] = nets[1]!;
  const dir = join(root, 'names');
  exportDecoderOnnx(net.model, net.params, dir);
  const m = decodeModel(readFileSync(join(dir, 'onnx', 'model.onnx')));
  assert.deepEqual(
    m.opsetImports.map((o) => o.domain),
    [''],
  );
  assert.ok(
    m.graph.nodes.every((n) => !n.domain),
    'no com.microsoft ops',
  );
  const dims = Object.fromEntries([...m.graph.inputs, ...m.graph.outputs].map((v) => [v.name, v.shape]));
  assert.deepEqual(dims.input_ids, ['batch_size', 'sequence_length']);
  assert.deepEqual(dims.attention_mask, ['batch_size', 'total_sequence_length']);
  assert.deepEqual(dims.position_ids, ['batch_size', 'sequence_length']);
  assert.deepEqual(dims['past_key_values.1.value'], ['batch_size', 2, 'past_sequence_length', 8]);
  assert.deepEqual(dims['present.0.key'], ['batch_size', 2, 'total_sequence_length', 8]);
  assert.deepEqual(dims.logits, ['batch_size', 'sequence_length', 50]);
});

test('config.json, generation_config.json and the tokenizer files are written beside onnx/', () => {
  const [, net] = nets[0]!;
  const dir = join(root, 'files');
  const tokDir = join(root, 'tok');
  mkdirSync(tokDir, { recursive: true });
  writeFileSync(join(tokDir, 'tokenizer.json'), '{"model":{}}');
  writeFileSync(join(tokDir, 'tokenizer_config.json'), '{}');
  const res = exportDecoderOnnx(net.model, net.params, dir, { tokenizer: tokDir, generation: { max_new_tokens: 20 } });
  assert.deepEqual(res.files.sort(), [
    'config.json',
    'generation_config.json',
    'onnx/model.onnx',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.model_type, 'gpt2');
  assert.equal(config.n_layer, 2);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')), { max_new_tokens: 20 });
  assert.throws(
    () => exportDecoderOnnx(net.model, net.params, join(root, 'x'), { tokenizer: join(root, 'missing') }),
    /tokenizer\.json/,
  );
});

test('int8 export: smaller file, logits close to fp32 (both quantization modes)', async (t) => {
  // Weight-heavy: the matrices are ~99% of the bytes.
  const model = new Gpt2({ vocabSize: 256, maxPositions: 32, dModel: 128, nLayers: 2, nHeads: 4 });
  const net = build(model, 5);
  const c = makeCase(net, [16, 12], 16, 0, 6);
  for (const mode of ['dynamic', 'weights'] as const) {
    const dir = join(root, `int8-${mode}`);
    const res = exportDecoderOnnx(net.model, net.params, dir, { int8: mode });
    const ratio = res.modelBytes / res.quantizedBytes!;
    assert.equal(statSync(join(dir, 'onnx', 'model_quantized.onnx')).size, res.quantizedBytes);
    assert.ok(ratio > 3.5, `${mode}: int8 file is only ${ratio.toFixed(2)}x smaller`);
    const fp32 = await onnxForward(await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx')), net, c);
    const int8 = await onnxForward(
      await ort.InferenceSession.create(join(dir, 'onnx', 'model_quantized.onnx')),
      net,
      c,
    );
    // Left-padded rows: compare real positions only.
    const V = 256,
      rows = [...Array(32).keys()].filter((r) => c.mask[r] === 1);
    let drift = 0,
      spread = 0,
      agree = 0;
    for (const r of rows) {
      const a = fp32.logits!.subarray(r * V, (r + 1) * V),
        b = int8.logits!.subarray(r * V, (r + 1) * V);
      drift = Math.max(drift, maxDiff(a, b));
      spread = Math.max(spread, Math.max(...a) - Math.min(...a));
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
    }
    t.diagnostic(
      `${mode}: ${res.modelBytes} → ${res.quantizedBytes} bytes (${ratio.toFixed(2)}x); max |Δlogit| ${drift.toFixed(4)} over a logit range of ${spread.toFixed(2)}; argmax agrees at ${agree}/${rows.length} positions`,
    );
    assert.ok(drift < 0.03 * spread, `${mode}: logits drift by ${drift}, over 3% of their range ${spread}`);
    assert.ok(agree >= 0.9 * rows.length, `${mode}: argmax agrees at only ${agree}/${rows.length} positions`);
  }
});

test('q4 export (MatMulNBits, blocks of 32): ≤ 0.3× the fp32 file, logits close to fp32', async (t) => {
  const model = new Gpt2({ vocabSize: 256, maxPositions: 32, dModel: 128, nLayers: 2, nHeads: 4 });
  const net = build(model, 5);
  const c = makeCase(net, [16, 12], 16, 0, 6);
  const dir = join(root, 'q4');
  const res = exportDecoderOnnx(net.model, net.params, dir, { q4: true });
  const ratio = res.q4Bytes! / res.modelBytes;
  assert.ok(ratio <= 0.3, `q4 file is ${ratio.toFixed(3)}× the fp32 file`);
  const ops = new Set(
    decodeModel(readFileSync(join(dir, 'onnx', 'model_q4.onnx'))).graph.nodes.map((n) => `${n.domain}:${n.opType}`),
  );
  assert.ok(ops.has('com.microsoft:MatMulNBits'));
  const fp32 = await onnxForward(await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx')), net, c);
  const q4 = await onnxForward(await ort.InferenceSession.create(join(dir, 'onnx', 'model_q4.onnx')), net, c);
  const V = 256;
  const rows = [...Array(32).keys()].filter((r) => c.mask[r] === 1);
  let drift = 0;
  let spread = 0;
  for (const r of rows) {
    const a = fp32.logits!.subarray(r * V, (r + 1) * V);
    drift = Math.max(drift, maxDiff(a, q4.logits!.subarray(r * V, (r + 1) * V)));
    spread = Math.max(spread, Math.max(...a) - Math.min(...a));
  }
  t.diagnostic(
    `q4: ${res.modelBytes} → ${res.q4Bytes} bytes (${ratio.toFixed(3)}×); max |Δlogit| ${drift.toFixed(4)} over a logit range of ${spread.toFixed(2)}`,
  );
  assert.ok(drift < 0.15 * spread, `q4 logits drift by ${drift}, over 15% of their range ${spread}`);
});

test('fp16 and q4f16 export: fp32 inputs and outputs, half-size (and 4-bit) files, logits close to fp32', async (t) => {
  const model = new Gpt2({ vocabSize: 256, maxPositions: 32, dModel: 128, nLayers: 2, nHeads: 4 });
  const net = build(model, 5);
  const c = makeCase(net, [16, 12], 16, 0, 6);
  const dir = join(root, 'fp16');
  const res = exportDecoderOnnx(net.model, net.params, dir, { fp16: true, q4f16: true });
  assert.ok(
    res.fp16Bytes! < 0.55 * res.modelBytes,
    `fp16 file is ${(res.fp16Bytes! / res.modelBytes).toFixed(3)}× the fp32 one`,
  );
  assert.ok(res.q4f16Bytes! <= 0.3 * res.modelBytes);
  const fp32 = await onnxForward(await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx')), net, c);
  for (const [file, tol] of [
    ['model_fp16.onnx', 0.01],
    ['model_q4f16.onnx', 0.15],
  ] as const) {
    const s = await ort.InferenceSession.create(join(dir, 'onnx', file));
    assert.ok(s.inputNames.includes('past_key_values.0.key'));
    const got = await onnxForward(s, net, c);
    const V = 256;
    const rows = [...Array(32).keys()].filter((r) => c.mask[r] === 1);
    let drift = 0;
    let spread = 0;
    for (const r of rows) {
      const a = fp32.logits!.subarray(r * V, (r + 1) * V);
      drift = Math.max(drift, maxDiff(a, got.logits!.subarray(r * V, (r + 1) * V)));
      spread = Math.max(spread, Math.max(...a) - Math.min(...a));
    }
    t.diagnostic(`${file}: max |Δlogit| ${drift.toFixed(4)} over a logit range of ${spread.toFixed(2)}`);
    assert.ok(drift < tol * spread, `${file}: logits drift by ${drift}, over ${tol * 100}% of their range ${spread}`);
  }
});

/** onnxruntime-web when installed (its wasm backend runs in Node too); RETORT_ORT_WEB may name its entry file. */
async function loadOrtWeb(): Promise<typeof ort | null> {
  const specifier = process.env.RETORT_ORT_WEB ?? 'onnxruntime-web';
  try {
    const web = (await import(specifier)) as typeof ort & { env: { wasm: { numThreads: number } } };
    web.env.wasm.numThreads = 1;
    return web;
  } catch {
    return null;
  }
}

const web = await loadOrtWeb();
test('the exported files run in onnxruntime-web (wasm) with the logits onnxruntime-node gives', {
  skip: web ? false : 'onnxruntime-web is not installed',
}, async () => {
  for (const [name, net] of nets) {
    const dir = join(root, `web-${name.replace(/\W+/g, '_')}`);
    exportDecoderOnnx(net.model, net.params, dir, { int8: true, q4: true, fp16: true, q4f16: true });
    const c = makeCase(net, [5, 3], 5, 0, 11);
    for (const file of ['model.onnx', 'model_quantized.onnx', 'model_q4.onnx', 'model_fp16.onnx', 'model_q4f16.onnx']) {
      const path = join(dir, 'onnx', file);
      const a = await onnxForward(await web!.InferenceSession.create(path), net, c);
      const b = await onnxForward(await ort.InferenceSession.create(path), net, c);
      // fp16 files round every intermediate to 11 bits: the two runtimes may differ by a few fp16 ulps.
      const tol = file.includes('fp16') ? 1e-3 : 1e-5;
      assert.ok(
        maxDiff(a.logits!, b.logits!) < tol,
        `${name} ${file}: web and node differ by ${maxDiff(a.logits!, b.logits!)}`,
      );
    }
  }
});

const tjs = await loadTransformersJs();
test('transformers.js loads the exported folder (fp32, q8, fp16, q4, q4f16) and generates the tokens Retort generates', {
  skip: tjs ? false : '@huggingface/transformers is not installed: run bash scripts/install-clients.sh (npm test does)',
}, async (t) => {
  const tok = CharTokenizer.fromCorpus(['the quick brown fox jumps over the lazy dog']);
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = root;
  const models = [
    new Gpt2({ vocabSize: tok.vocabSize, maxPositions: 48, dModel: 32, nLayers: 2, nHeads: 4 }),
    new Llama({
      vocabSize: tok.vocabSize,
      maxPositions: 48,
      dModel: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      mlpHidden: 48,
    }),
  ];
  for (const [k, model] of models.entries()) {
    const params = ParamStore.init(model.params.values(), 3);
    // Sharper predictions than the default init, so greedy decoding has no near-ties.
    for (const [name, v] of params.values)
      if (v.shape.length === 2)
        (v.data as Float32Array).forEach((x, i, d) => (d[i] = x * (name.includes('wpe') ? 30 : 6)));
    exportDecoderOnnx(model, params, join(root, `tjs${k}`), {
      tokenizer: tok,
      int8: true,
      q4: true,
      fp16: true,
      q4f16: true,
    });
    const prompt = tok.encode('the quick');
    const want = (await new Generator(model, params).generate([prompt], { maxNewTokens: 12, eosTokenId: [] }))
      .tokens[0];
    const tokenizer = await tjs.AutoTokenizer.from_pretrained(`tjs${k}`);
    assert.deepEqual(Array.from(tokenizer('the quick', { add_special_tokens: false }).input_ids.data, Number), prompt);
    for (const dtype of ['fp32', 'q8', 'fp16', 'q4', 'q4f16']) {
      const m = await tjs.AutoModelForCausalLM.from_pretrained(`tjs${k}`, { dtype, device: 'cpu' });
      const input_ids = new tjs.Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
      const attention_mask = new tjs.Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
      const out = await m.generate({ input_ids, attention_mask, max_new_tokens: 12, do_sample: false });
      const got = Array.from(out.data, Number).slice(prompt.length);
      // 4-bit weights of a 32-wide model move logits by ~20% of their range: later greedy choices may
      // change, the first must not; where it diverges is reported.
      if (dtype === 'q4' || dtype === 'q4f16') {
        assert.equal(got[0], want[0], `${model.constructor.name} ${dtype}: the prompt's next token`);
        const at = got.findIndex((x, i) => x !== want[i]);
        t.diagnostic(
          `${model.constructor.name} q4 in transformers.js: first divergence ${at < 0 ? 'none' : `at token ${at}`}`,
        );
      } else assert.deepEqual(got, want, `${model.constructor.name} ${dtype}`);
    }
  }
});
