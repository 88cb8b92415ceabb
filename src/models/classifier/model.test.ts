import assert from 'node:assert/strict';
import { test } from 'node:test';
import { input } from '../../graph/index.ts';
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
import type { ClassifierConfigInput } from './config.ts';
import { SequenceClassifier } from './model.ts';

const ort = new OrtExecutor();
const gpt2Body = {
  family: 'gpt2' as const,
  config: { vocabSize: 30, maxPositions: 16, dModel: 16, nLayers: 2, nHeads: 2, tieWordEmbeddings: false },
};
const llamaBody = {
  family: 'llama' as const,
  config: { vocabSize: 30, maxPositions: 16, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, mlpHidden: 24 },
};

function randomParams(model: SequenceClassifier, seed: number): ParamStore {
  const rand = mulberry32(seed);
  const store = new ParamStore();
  for (const [name, p] of model.params) {
    const isNorm = /(ln_\d|ln_f|norm|layernorm)\.weight$/.test(name);
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

test('parameter names are transformers *ForSequenceClassification names: body, score.weight, no LM head', () => {
  const g = new SequenceClassifier({ body: gpt2Body, numLabels: 3 });
  assert.ok(g.params.has('transformer.wte.weight') && g.params.has('transformer.h.1.mlp.c_proj.weight'));
  assert.deepEqual(g.params.get('score.weight')!.shape, [3, 16]);
  assert.ok(!g.params.has('lm_head.weight') && !g.params.has('score.bias'));
  assert.equal(g.config.body.config.tieWordEmbeddings, false, 'the stored config keeps the checkpoint flag');
  const l = new SequenceClassifier({ body: llamaBody, numLabels: 2 });
  assert.ok(
    l.params.has('model.layers.0.self_attn.k_proj.weight') &&
      l.params.has('score.weight') &&
      !l.params.has('lm_head.weight'),
  );
});

// Row 0 fills the sequence; row 1 has 4 tokens then 2 pads (id 0).
const seqA = [5, 9, 2, 7, 3, 11],
  seqB = [4, 8, 6, 1];
const padded = hostTensor('int64', [2, 6], [...seqA, ...seqB, 0, 0]);
const mask = hostTensor('int64', [2, 6], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);

/** Logits for the padded batch with a mask (or padTokenId), and for each sequence alone without padding. */
async function paddedVsAlone(cfg: ClassifierConfigInput, useMask: boolean) {
  const model = new SequenceClassifier(cfg);
  const params = randomParams(model, 3);
  const batched = model.forward(input('input_ids', [2, 6], 'int64'), {
    mask: useMask ? input('attention_mask', [2, 6], 'int64') : undefined,
  });
  const got = await runGraph(ort, { logits: batched.logits }, params, {
    input_ids: padded,
    ...(useMask ? { attention_mask: mask } : {}),
  });
  const alone = async (ids: number[]) => {
    const out = model.forward(input('input_ids', [1, ids.length], 'int64'));
    return toNumbers(
      (await runGraph(ort, { logits: out.logits }, params, { input_ids: hostTensor('int64', [1, ids.length], ids) }))
        .logits!,
    );
  };
  return { got: toNumbers(got.logits!), want: [...(await alone(seqA)), ...(await alone(seqB))] };
}

for (const body of [gpt2Body, llamaBody]) {
  for (const pooling of ['last', 'mean'] as const) {
    test(`${body.family} body, ${pooling} pooling: a right-padded batch classifies each sequence as it would alone`, async () => {
      const { got, want } = await paddedVsAlone({ body, numLabels: 3, pooling }, true);
      assert.ok(maxAbsDiff(got, want) < 1e-4, `padded ${[...got]} vs alone ${want}`);
      assert.ok(maxAbsDiff(got.slice(0, 3), got.slice(3)) > 1e-3, 'the two sequences should not get the same logits');
    });
  }
}

test('padTokenId stands in for the mask when forward gets none', async () => {
  const { got, want } = await paddedVsAlone({ body: llamaBody, numLabels: 2, padTokenId: 0 }, false);
  assert.ok(maxAbsDiff(got, want) < 1e-4);
});

test('without a mask or pad id, the last position is pooled (and padding is then classified as tokens)', async () => {
  const { got, want } = await paddedVsAlone({ body: gpt2Body, numLabels: 2 }, false);
  assert.ok(maxAbsDiff(got.slice(0, 2), want.slice(0, 2)) < 1e-4);
  assert.ok(maxAbsDiff(got.slice(2), want.slice(2)) > 1e-4);
});

test('an all-padding row gives finite logits, and the reference interpreter agrees with onnxruntime', async () => {
  const model = new SequenceClassifier({ body: llamaBody, numLabels: 2 });
  const params = randomParams(model, 4);
  const out = model.forward(input('input_ids', [2, 3], 'int64'), { mask: input('attention_mask', [2, 3], 'bool') });
  const feeds: Record<string, HostTensor> = {
    input_ids: hostTensor('int64', [2, 3], [1, 2, 3, 0, 0, 0]),
    attention_mask: hostTensor('bool', [2, 3], [1, 1, 0, 0, 0, 0]),
  };
  const a = await runGraph(ort, { logits: out.logits, pooled: out.pooled }, params, feeds);
  const b = await runGraph(new ReferenceExecutor(), { logits: out.logits, pooled: out.pooled }, params, feeds);
  assert.ok(toNumbers(a.logits!).every(Number.isFinite));
  assert.ok(maxAbsDiff(a.logits!, b.logits!) < 1e-4);
  assert.deepEqual(a.pooled!.shape, [2, 16]);
});

test('mask shape is checked', () => {
  const model = new SequenceClassifier({ body: llamaBody, numLabels: 2 });
  assert.throws(
    () => model.forward(input('ids', [2, 3], 'int64'), { mask: input('m', [2, 4], 'bool') }),
    /mask has shape \[2, 4\], expected the ids' shape \[2, 3\]/,
  );
});
