// The ONNX teacher on files PyTorch exported (fixtures/make_onnx_teacher.py): logits equal
// onnxruntime run directly on the unedited file and PyTorch's own logits; the residual-stream walk
// finds the hidden state PyTorch saved; the graph's TopK equals top-k in JS; a classifier file
// scores; and a Retort export with past_key_values inputs is fed empty caches.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decoderOnnxModel } from '../../export/index.ts';
import { loadHfModel } from '../../models/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import { encodeModel, decodeModel } from '../../onnx/index.ts';
import { hostTensor } from '../../runtime/index.ts';
import { LocalTeacher } from '../local.ts';
import { listCandidates, residualStream } from './graph-edit.ts';
import { OnnxTeacher, topkFromLogits } from './teacher.ts';

const DIR = join(import.meta.dirname, '../../../fixtures/onnx');
const DECODER = join(DIR, 'tiny-gpt2.onnx');
const CLASSIFIER = join(DIR, 'tiny-classifier.onnx');
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[];
  logits_shape: number[];
  hidden: number[];
  hidden_index: number;
  classifier_logits: number[];
};
const [B, T] = [ref.input_ids.length, ref.input_ids[0]!.length];
const ids = hostTensor('int64', [B, T], ref.input_ids.flat());
const mask = hostTensor('int64', [B, T], ref.attention_mask.flat());

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function ortDirect(path: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const out = await s.run({
    input_ids: new ort.Tensor('int64', ids.data as BigInt64Array, [B, T]),
    attention_mask: new ort.Tensor('int64', mask.data as BigInt64Array, [B, T]),
  });
  return out.logits!.data as Float32Array;
}

test('decoder: logits equal onnxruntime on the file and PyTorch; hidden state 1 equals PyTorch block 0 output', async () => {
  const teacher = await OnnxTeacher.load(DECODER);
  assert.equal(teacher.task, 'causal-lm');
  assert.equal(teacher.info.vocabSize, 257);
  assert.equal(teacher.info.nLayers, 2, 'residual walk finds embedding + 2 blocks');
  assert.ok(teacher.tokenizer, 'tokenizer.json beside the file is loaded');
  assert.match(teacher.fingerprint, /^[0-9a-f]{32}:[0-9a-f]{8}$/);
  const res = await teacher.score({ ids, attentionMask: mask, logits: true, topK: 5, hidden: [0, 1, 2] });
  const logits = res.logits!.data as Float32Array;
  assert.deepEqual(res.logits!.shape, ref.logits_shape);
  const direct = await ortDirect(DECODER);
  assert.ok(maxDiff(logits, direct) < 1e-5, `vs onnxruntime directly: ${maxDiff(logits, direct)}`);
  assert.ok(maxDiff(logits, ref.logits) < 1e-4, `vs PyTorch: ${maxDiff(logits, ref.logits)}`);
  const h = res.hidden![ref.hidden_index]!;
  assert.deepEqual(h.shape, [B, T, 32]);
  assert.ok(
    maxDiff(h.data as Float32Array, ref.hidden) < 1e-4,
    `hidden vs PyTorch: ${maxDiff(h.data as Float32Array, ref.hidden)}`,
  );
  // Top-k from the graph's TopK node equals top-k in JS over the same logits.
  const js = topkFromLogits(res.logits!, 5);
  assert.deepEqual([...(res.topk!.ids.data as BigInt64Array)], [...(js.ids.data as BigInt64Array)]);
  assert.ok(maxDiff(res.topk!.logprobs.data as Float32Array, js.logprobs.data as Float32Array) < 1e-5);
  // Without the mask the unpadded row 0 is unchanged (its mask was all ones).
  const plain = await teacher.score({ ids: hostTensor('int64', [1, T], ref.input_ids[0]!), topK: 5 });
  assert.deepEqual(
    [...(plain.topk!.ids.data as BigInt64Array)],
    [...(res.topk!.ids.data as BigInt64Array)].slice(0, T * 5),
  );
});

test('decoder: hidden states named by the user, candidates, and errors that name the gap', async () => {
  const model = decodeModel(readFileSync(DECODER));
  const stream = residualStream(model)!;
  const cands = listCandidates(model).map((c) => c.name);
  for (const s of stream.slice(1)) assert.ok(cands.includes(s), `${s} is among the candidates`);
  const teacher = await OnnxTeacher.load(DECODER, { hidden: [stream[1]!] });
  const res = await teacher.score({ ids, attentionMask: mask, hidden: [0] });
  assert.ok(maxDiff(res.hidden![0]!.data as Float32Array, ref.hidden) < 1e-4);
  await assert.rejects(
    OnnxTeacher.load(DECODER, { hidden: ['no/such/value'] }),
    /no value named 'no\/such\/value'.*candidates/,
  );
  await assert.rejects(teacher.score({ ids, hidden: [3] }), /hidden states 0..0, not 3/);
  await assert.rejects(teacher.score({ ids, topK: 999 }), /topK must be an integer in \[1, 257\]/);
  const softmax = listCandidates(model, ['Softmax']).map((c) => c.name);
  assert.equal(softmax.length, 2);
  const withAttn = await OnnxTeacher.load(DECODER, { attentions: softmax });
  const a = await withAttn.score({ ids, attentionMask: mask, attentions: [0, 1] });
  assert.deepEqual(a.attentions![1]!.shape, [B, 4, T, T]);
  const row = (a.attentions![0]!.data as Float32Array).subarray(T * (T - 1), T * T); // (b 0, head 0, last query)
  assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5, 'attention rows sum to 1');
});

test('classifier: (B, C) logits equal PyTorch and onnxruntime directly', async () => {
  const teacher = await OnnxTeacher.load(CLASSIFIER);
  assert.equal(teacher.task, 'classifier');
  assert.equal(teacher.info.vocabSize, 3);
  const res = await teacher.score({ ids, attentionMask: mask, logits: true, topK: 2 });
  assert.deepEqual(res.logits!.shape, [B, 3]);
  const direct = await ortDirect(CLASSIFIER);
  assert.ok(maxDiff(res.logits!.data as Float32Array, direct) < 1e-5);
  assert.ok(maxDiff(res.logits!.data as Float32Array, ref.classifier_logits) < 1e-4);
  assert.deepEqual(res.topk!.ids.shape, [B, 2]);
});

test('Retort export with past_key_values inputs: empty caches fed, logits equal the in-process teacher', async () => {
  const loaded = loadHfModel(join(import.meta.dirname, '../../../fixtures/hf/tiny-gpt2'));
  assert.equal(loaded.task, 'causal-lm');
  if (loaded.task !== 'causal-lm') return;
  const { model, params } = loaded;
  const dir = mkdtempSync(join(tmpdir(), 'retort-onnx-teacher-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, encodeModel(decoderOnnxModel(model, params)));
    const onnx = await OnnxTeacher.load(file, { tokenizer: null, config: { vocab_size: 300 } });
    assert.ok(onnx.session.io.past.length === 4, 'two layers of past keys and values');
    const x = hostTensor('int64', [2, 7], [1, 5, 9, 200, 3, 3, 17, 42, 0, 299, 8, 8, 1, 2]);
    const local = new LocalTeacher('local', model as unknown as DecoderModel, params);
    const [a, b] = await Promise.all([
      onnx.score({ ids: x, logits: true, topK: 4 }),
      local.score({ ids: x, logits: true, topK: 4 }),
    ]);
    assert.ok(maxDiff(a.logits!.data as Float32Array, b.logits!.data as Float32Array) < 1e-4);
    assert.deepEqual([...(a.topk!.ids.data as BigInt64Array)], [...(b.topk!.ids.data as BigInt64Array)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
