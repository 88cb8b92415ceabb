// Benchmark: greedy generation with a small GPT-2, Retort (onnxruntime, fixed-capacity KV cache)
// vs PyTorch 1.13 (same weights, same prompts, concatenating cache) in the same run.
//   npx tsx bench/generate.ts                    (4 layers, d 256, 4 heads, vocab 2048, prompt 16, 128 new tokens, 2 threads)
//   npx tsx bench/generate.ts -- --vocab 256 --new-tokens 64 --no-peer
//   npx tsx bench/generate.ts -- --layers 8 --vocab 256 --batches 16 --prompt-len 16-64 --new-tokens 64 --cached-only
//       (teacher answers: 16 prompts of seeded lengths 16-64, left-padded as the Generator lays them out)
// Figures: tokens/s at batch 1 and 8 (prefill included), per-token latency with and without the
// cache, the first call's compile time, and the exported model (one file, symbolic dims, plain
// onnxruntime with a cache that grows by concatenation) for comparison; --cached-only leaves out
// the no-cache and exported-file figures. Greedy tokens are compared with PyTorch's, every row.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { exportDecoderOnnx } from '../src/export/index.ts';
import { Generator, type GenerateOptions } from '../src/generate/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { mulberry32, ParamStore } from '../src/runtime/index.ts';
import { runPeer } from './peer.ts';
import { median, peakRssMb } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '4' },
    'd-model': { type: 'string', default: '256' },
    heads: { type: 'string', default: '4' },
    vocab: { type: 'string', default: '2048' },
    'prompt-len': { type: 'string', default: '16' },
    'new-tokens': { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'no-peer': { type: 'boolean', default: false },
    /** Batch sizes to time, e.g. 1,8 or 16. */
    batches: { type: 'string', default: '1,8' },
    /** Time only cached generation (no no-cache run, no exported file), on both sides. */
    'cached-only': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const n = (k: keyof typeof a) => Number(a[k]);
const [V, N, threads, repeats, rounds] = [n('vocab'), n('new-tokens'), n('threads'), n('repeats'), n('rounds')];
const BATCHES = a.batches!.split(',').map(Number);
if (BATCHES.some((b) => !Number.isInteger(b) || b < 1))
  throw new Error(`--batches ${a.batches}: expected positive batch sizes separated by commas, e.g. 1,8`);
// --prompt-len N gives every prompt N tokens; MIN-MAX gives each a seeded length in that range.
const lens = /^(\d+)(?:-(\d+))?$/.exec(a['prompt-len']!);
if (!lens || Number(lens[1]) < 1 || Number(lens[2] ?? lens[1]) < Number(lens[1]))
  throw new Error(`--prompt-len ${a['prompt-len']}: expected a token count (16) or a range (16-64)`);
const [P, PMAX] = [Number(lens[1]), Number(lens[2] ?? lens[1])];
const ragged = PMAX > P;
const cachedOnly = a['cached-only']!;

const config = {
  vocabSize: V,
  maxPositions: Math.max(256, PMAX + N),
  dModel: n('d-model'),
  nLayers: n('layers'),
  nHeads: n('heads'),
  gelu: 'tanh' as const,
};
const model = new Gpt2(config);
const params = ParamStore.init(model.params.values(), 0);
const rng = mulberry32(42);
const lengthRng = mulberry32(43);
const prompts = Array.from({ length: Math.max(...BATCHES) }, () =>
  Array.from({ length: ragged ? P + Math.floor(lengthRng() * (PMAX - P + 1)) : P }, () => Math.floor(rng() * V)),
);
const gen = new Generator(model, params, { threads });
const greedy: GenerateOptions = { maxNewTokens: N, eosTokenId: [] };

interface Timing {
  total: number;
  first: number;
  /** Seconds between consecutive steps (one token per row each). */
  steps: number[];
  tokens: number[][];
}

async function timed(batch: number[][], o: GenerateOptions): Promise<Timing> {
  const t0 = performance.now();
  let last = t0,
    first = 0;
  const steps: number[] = [];
  const tokens: number[][] = batch.map(() => []);
  for await (const e of gen.stream(batch, o)) {
    tokens[e.row]!.push(e.token);
    if (e.row !== 0) continue;
    const now = performance.now();
    if (tokens[0]!.length === 1) first = now - t0;
    else steps.push((now - last) / 1000);
    last = now;
  }
  return { total: (performance.now() - t0) / 1000, first: first / 1000, steps, tokens };
}

const best = async (batch: number[][], o: GenerateOptions) => {
  const runs: Timing[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await timed(batch, o));
  return runs.reduce((x, y) => (y.total < x.total ? y : x));
};

const ms = (s: number) => (s * 1e3).toFixed(2);
const promptDesc = ragged
  ? `prompts of ${P}-${PMAX} tokens (${prompts.map((p) => p.length).join(' ')})`
  : `prompt ${P}`;
console.log(
  `model: GPT-2 ${config.nLayers}L d${config.dModel} h${config.nHeads} V${V}, ${model.paramCount().toLocaleString()} params, ${promptDesc}, ${N} new tokens, greedy, fp32, ${threads} threads`,
);

// Compile: the first call builds the prefill and decode programs (sessions are cached afterwards).
const c0 = performance.now();
await gen.generate([prompts[0]!], { ...greedy, maxNewTokens: 2 });
const compileS = (performance.now() - c0) / 1000;

const retort: Record<string, number> = { compile_s: compileS };
/** Each batch's greedy tokens, row by row. */
const retortTokens: Record<number, number[][]> = {};
/** Each batch size with the cache, best of `repeats` runs each: one round's Retort figures. */
async function retortRound(): Promise<Record<string, number>> {
  const f: Record<string, number> = {};
  for (const b of BATCHES) {
    await gen.generate(prompts.slice(0, b), greedy); // untimed: compiles this batch size and warms up, as the peer does
    const r = await best(prompts.slice(0, b), greedy);
    f[`b${b}_tokens_per_s`] = (b * N) / r.total;
    f[`b${b}_first_token_ms`] = r.first * 1e3;
    f[`b${b}_step_ms_median`] = median(r.steps) * 1e3;
    retortTokens[b] = r.tokens;
  }
  return f;
}
const firstRound = await retortRound();
// The no-cache path and the exported file run prompt 0 alone; its cached tokens come from the
// first batch (row 0 there: left-padded when prompts differ in length).
const refTokens = retortTokens[BATCHES[0]!]![0]!;
let sameWithout = false;
if (!cachedOnly) {
  await gen.generate([prompts[0]!], { ...greedy, maxNewTokens: 2, useCache: false });
  const nc = await timed([prompts[0]!], { ...greedy, useCache: false });
  retort.b1_nocache_step_ms_mean = (nc.steps.reduce((s, x) => s + x, 0) / nc.steps.length) * 1e3;
  sameWithout = JSON.stringify(nc.tokens[0]) === JSON.stringify(refTokens);

  // The exported file: one session for every length, cache grown by Concat and copied out each step.
  const dir = mkdtempSync(join(tmpdir(), 'retort-bench-gen-'));
  try {
    exportDecoderOnnx(model, params, dir);
    const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    const hs = config.dModel / config.nHeads;
    const run = async (ids: number[], past: number, kv: ort.Tensor[]) => {
      const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(ids),
        attention_mask: i64(Array(past + ids.length).fill(1)),
        position_ids: i64(ids.map((_, i) => past + i)),
      };
      for (let i = 0; i < config.nLayers; i++) {
        feeds[`past_key_values.${i}.key`] =
          kv[2 * i] ?? new ort.Tensor('float32', new Float32Array(0), [1, config.nHeads, 0, hs]);
        feeds[`past_key_values.${i}.value`] =
          kv[2 * i + 1] ?? new ort.Tensor('float32', new Float32Array(0), [1, config.nHeads, 0, hs]);
      }
      const out = await session.run(feeds);
      const logits = out.logits!.data as Float32Array;
      const last = logits.subarray(logits.length - V);
      const next = last.indexOf(Math.max(...last));
      return {
        next,
        kv: Array.from({ length: 2 * config.nLayers }, (_, k) => out[`present.${k >> 1}.${k & 1 ? 'value' : 'key'}`]!),
      };
    };
    const exported = async () => {
      let r = await run(prompts[0]!, 0, []);
      const steps: number[] = [],
        toks = [r.next];
      for (let i = 1; i < N; i++) {
        const s = performance.now();
        r = await run([r.next], prompts[0]!.length + i - 1, r.kv);
        steps.push((performance.now() - s) / 1000);
        toks.push(r.next);
      }
      return { steps, toks };
    };
    await exported();
    const ex = await exported();
    retort.export_b1_step_ms_median = median(ex.steps) * 1e3;
    retort.export_same_tokens = Number(JSON.stringify(ex.toks) === JSON.stringify(refTokens));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
retort.peak_rss_mb = peakRssMb();

// The peer gets the same weights and prompts through a flat file.
const wdir = mkdtempSync(join(tmpdir(), 'retort-bench-w-'));
let offset = 0;
const entries = [...params.values].map(([name, v]) => {
  const e = { name, shape: v.shape, offset };
  offset += v.data.length;
  return e;
});
const flat = new Float32Array(offset);
for (const [i, [, v]] of [...params.values].entries()) flat.set(v.data as Float32Array, entries[i]!.offset);
writeFileSync(join(wdir, 'weights.bin'), new Uint8Array(flat.buffer));
writeFileSync(
  join(wdir, 'manifest.json'),
  JSON.stringify({ config: model.config, params: entries, prompts, batches: BATCHES, newTokens: N }),
);

// Retort and PyTorch take turns (see interleave in peer.ts); only the first peer run also times
// its no-cache path, which takes seconds.
type Figures = Record<string, number>;
const retortRounds: Figures[] = [];
const peerRounds: Figures[] = [];
let peerTokens: Record<number, number[][]> | undefined, peerSkip: string | undefined;
try {
  for (let r = 0; r < Math.max(1, rounds); r++) {
    retortRounds.push(r === 0 ? firstRound : await retortRound());
    if (a['no-peer'] || peerSkip) continue;
    const args = [
      '--weights',
      wdir,
      '--threads',
      String(threads),
      '--repeats',
      String(repeats),
      ...(r > 0 || cachedOnly ? ['--cached-only'] : []),
    ];
    const peer = runPeer(new URL('./torch_generate.py', import.meta.url).pathname, args, threads);
    if (!peer.ok) peerSkip = peer.reason;
    else {
      peerRounds.push(peer.figures as Figures);
      peerTokens ??= Object.fromEntries(BATCHES.map((b) => [b, peer.figures[`b${b}_tokens`] as unknown as number[][]]));
    }
  }
} finally {
  rmSync(wdir, { recursive: true, force: true });
}
const med = (rs: Figures[], k: string) => median(rs.map((f) => f[k]!));
for (const k of Object.keys(firstRound)) retort[k] = med(retortRounds, k);

console.log(`retort  compile (first call): ${compileS.toFixed(2)} s`);
for (const b of BATCHES) {
  const per = retortRounds.map((f) => f[`b${b}_tokens_per_s`]!.toFixed(0)).join(', ');
  console.log(
    `retort  batch ${b}: ${retort[`b${b}_tokens_per_s`]!.toFixed(0)} tokens/s (median of rounds: ${per}), first token ${retort[`b${b}_first_token_ms`]!.toFixed(1)} ms, ${ms(retort[`b${b}_step_ms_median`]! / 1e3)} ms/step (median)`,
  );
}
if (!cachedOnly) {
  console.log(
    `retort  batch 1 without cache: ${retort.b1_nocache_step_ms_mean!.toFixed(2)} ms/token (window of ${Math.ceil((prompts[0]!.length + N - 1) / 64) * 64} slots re-run each token); same tokens as with cache: ${sameWithout}`,
  );
  console.log(
    `export  batch 1 (symbolic dims, plain onnxruntime, concat cache): ${retort.export_b1_step_ms_median!.toFixed(2)} ms/step (median); same tokens: ${Boolean(retort.export_same_tokens)}`,
  );
}

if (peerRounds.length > 0) {
  const p0 = peerRounds[0]!;
  for (const b of BATCHES) {
    const per = peerRounds.map((f) => f[`b${b}_tokens_per_s`]!.toFixed(0)).join(', ');
    console.log(
      `pytorch ${(p0 as Record<string, unknown>).torch} batch ${b}: ${med(peerRounds, `b${b}_tokens_per_s`).toFixed(0)} tokens/s (median of rounds: ${per}), first token ${med(peerRounds, `b${b}_first_token_ms`).toFixed(1)} ms, ${med(peerRounds, `b${b}_step_ms_median`).toFixed(2)} ms/step (median)`,
    );
  }
  if (!cachedOnly)
    console.log(
      `pytorch batch 1 without cache: ${p0.b1_nocache_step_ms_mean!.toFixed(2)} ms/token mean (exact length, growing), ${p0.b1_nocache_step_ms_last!.toFixed(2)} ms at the end`,
    );
  for (const b of BATCHES) {
    const ratios = peerRounds.map((f, i) => retortRounds[i]![`b${b}_tokens_per_s`]! / f[`b${b}_tokens_per_s`]!);
    console.log(
      `ratio batch ${b}: retort/pytorch tokens/s = ${median(ratios).toFixed(2)}x (median of rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    );
    retort[`ratio_b${b}`] = median(ratios);
  }
  if (!cachedOnly && BATCHES.includes(1))
    console.log(
      `ratio cache speedup (no-cache ms/token ÷ cached ms/step): retort ${(retort.b1_nocache_step_ms_mean! / retort.b1_step_ms_median!).toFixed(1)}x, pytorch ${(p0.b1_nocache_step_ms_mean! / med(peerRounds, 'b1_step_ms_median')).toFixed(1)}x`,
    );
  for (const b of BATCHES) {
    // Per row: how many leading tokens agree (a near-tie between two logits can flip one and all after it).
    const agree = retortTokens[b]!.map((row, r) => {
      const k = row.findIndex((t, i) => t !== peerTokens![b]![r]![i]);
      return k < 0 ? N : k;
    });
    const same = agree.filter((k) => k === N).length;
    console.log(
      `greedy tokens vs pytorch (batch ${b}): ${same} of ${b} rows identical for all ${N} tokens` +
        (same < b ? `; leading tokens that agree per row: ${agree.join(' ')}` : ''),
    );
  }
  for (const k of Object.keys(p0))
    if (!k.endsWith('_tokens'))
      retort[`pytorch_${k}`] =
        typeof p0[k] === 'number' && k in peerRounds[peerRounds.length - 1]! ? med(peerRounds, k) : p0[k]!;
} else if (!a['no-peer']) console.log(`pytorch: skipped: ${peerSkip}`);

// A decode step reads every weight once: the rate each side moves them at says how close to the
// memory system each gets (a summing kernel here reads such an array at about 10 GB/s).
const weightBytes = 4 * model.paramCount();
const rate = (stepMs: number) => (weightBytes / (stepMs / 1e3) / 1e9).toFixed(1);
const b0 = BATCHES[0]!;
const peerStep = peerRounds.length ? med(peerRounds, `b${b0}_step_ms_median`) : undefined;
console.log(
  `weights: a batch-${b0} step reads ${(weightBytes / 2 ** 20).toFixed(1)} MB of weights; Retort's step moves them at ${rate(retort[`b${b0}_step_ms_median`]!)} GB/s` +
    (peerStep === undefined ? '' : `, PyTorch's at ${rate(peerStep)} GB/s`),
);
console.log(JSON.stringify({ retort }));
