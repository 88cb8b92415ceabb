// Whole-model checks against PyTorch: tiny random checkpoints in Hugging Face layout and the logits
// and hidden states a plain-PyTorch re-implementation of transformers' forward pass computed from them
// (fixtures/make_hf_fixtures.py). Loading, name mapping and every op of each family must be right to pass.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { input } from '../../graph/index.ts';
import {
  hostTensor,
  OrtExecutor,
  ReferenceExecutor,
  toNumbers,
  type Executor,
  type HostTensor,
} from '../../runtime/index.ts';
import type { KvPair } from '../types.ts';
import type { DecoderModel } from './families.ts';
import { loadHfModel } from './load.ts';
import { maxAbsDiff, runGraph } from './testing.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/hf/', import.meta.url));
const TOL = 1e-4;
const ort = new OrtExecutor();

interface Reference {
  input_ids: number[][];
  logits_shape: [number, number, number];
  logits: number[][][];
  /** Residual stream after block i (before the final norm), for input_ids[0]: (L, T, C). */
  layer_outputs: number[][][];
  argmax_next_token: number[][];
}

function fixture(name: string) {
  const dir = `${FIXTURES}${name}`;
  if (!existsSync(`${dir}/reference.json`)) {
    assert.fail(
      `fixture ${dir} is missing; generate it with /usr/bin/python3 fixtures/make_hf_fixtures.py (needs python3-torch)`,
    );
  }
  const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as Reference;
  const loaded = loadHfModel(dir);
  assert.equal(loaded.task, 'causal-lm');
  const [b, t] = [ref.input_ids.length, ref.input_ids[0]!.length];
  const ids = hostTensor('int64', [b, t], ref.input_ids.flat());
  return { ref, model: loaded.model as DecoderModel, params: loaded.params, family: loaded.family, ids, b, t };
}

/** Logits (B, T, V) and per-block hidden states of the fixture's input, on `executor`. */
async function forward(f: ReturnType<typeof fixture>, executor: Executor = ort) {
  const out = f.model.forward(input('input_ids', [f.b, f.t], 'int64'));
  const outputs = { logits: out.logits, ...Object.fromEntries(out.hidden.slice(1).map((h, i) => [`h${i}`, h])) };
  return runGraph(executor, outputs, f.params, { input_ids: f.ids });
}

for (const name of ['tiny-gpt2', 'tiny-llama', 'tiny-qwen2']) {
  test(`${name}: logits and every block's hidden state match PyTorch within ${TOL}`, async (t) => {
    const f = fixture(name);
    const r = await forward(f);
    assert.deepEqual(r.logits!.shape, f.ref.logits_shape);
    const dLogits = maxAbsDiff(r.logits!, f.ref.logits.flat(2));
    const c = r.h0!.shape[2]!;
    const dHidden = Math.max(
      ...f.ref.layer_outputs.map((want, i) => maxAbsDiff(toNumbers(r[`h${i}`]!).subarray(0, f.t * c), want.flat())),
    );
    t.diagnostic(`${name}: max |Δ logits| ${dLogits.toExponential(2)}, max |Δ hidden| ${dHidden.toExponential(2)}`);
    assert.ok(dLogits <= TOL, `${name}: logits differ from PyTorch by ${dLogits}`);
    assert.ok(dHidden <= TOL, `${name}: hidden states differ from PyTorch by ${dHidden}`);
  });
}

test('tiny-llama: onnxruntime and the reference interpreter agree on one forward', async () => {
  const f = fixture('tiny-llama');
  const [a, b] = await Promise.all([forward(f), forward(f, new ReferenceExecutor())]);
  for (const k of Object.keys(b))
    assert.ok(maxAbsDiff(a[k]!, b[k]!) <= TOL, `${k}: onnxruntime vs reference differ by ${maxAbsDiff(a[k]!, b[k]!)}`);
});

for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-gpt2']) {
  test(`${name}: last-position logits from a KV cache of the prefix equal PyTorch's full-sequence logits`, async () => {
    const f = fixture(name);
    const { b, t } = f;
    const rows = (from: number, to: number) =>
      hostTensor(
        'int64',
        [b, to - from],
        f.ref.input_ids.flatMap((r) => r.slice(from, to)),
      );
    const pre = f.model.forward(input('prefix_ids', [b, t - 1], 'int64'));
    const cacheOut = Object.fromEntries(
      pre.present.flatMap((kv, i) => [
        [`k${i}`, kv.key],
        [`v${i}`, kv.value],
      ]),
    );
    const cache = await runGraph(ort, cacheOut, f.params, { prefix_ids: rows(0, t - 1) });
    const past: KvPair[] = pre.present.map((kv, i) => ({
      key: input(`past_k${i}`, kv.key.shape),
      value: input(`past_v${i}`, kv.value.shape),
    }));
    const step = f.model.forward(input('last_id', [b, 1], 'int64'), { past });
    const feeds: Record<string, HostTensor> = { last_id: rows(t - 1, t) };
    past.forEach((_, i) => ((feeds[`past_k${i}`] = cache[`k${i}`]!), (feeds[`past_v${i}`] = cache[`v${i}`]!)));
    const got = (await runGraph(ort, { logits: step.logits }, f.params, feeds)).logits!;
    const want = f.ref.logits.flatMap((r) => r[t - 1]!);
    const d = maxAbsDiff(got, want);
    assert.ok(d <= TOL, `${name}: cached last-position logits differ from PyTorch by ${d}`);
  });
}
