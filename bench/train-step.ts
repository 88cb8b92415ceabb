// Benchmark: one training step (forward, backward, AdamW with clipping) of a GPT-style causal LM,
// Retort on onnxruntime vs PyTorch 1.13 on the same model, same batch, same threads, same run.
//   npm run bench            (4 layers, d 256, 4 heads, vocab 256, ctx 128, batch 16, 2 threads)
//   npm run bench -- --steps 20 --rounds 5 --threads 2
//   npm run bench -- --forward     (the forward pass and loss alone, against torch.no_grad)
// Prints each side's median step time over interleaved rounds, their ratio, and the floor the
// machine's own GEMM rate puts under any fp32 engine's step (bench/roofline.ts).
import { parseArgs } from 'node:util';
import { grad } from '../src/autodiff/index.ts';
import * as g from '../src/graph/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, OrtExecutor, ParamStore, type HostTensor } from '../src/runtime/index.ts';
import { interleave, reportPeer, runPeer } from './peer.ts';
import { describeFloor, gemmFloor, GemmPeak } from './roofline.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '4' },
    'd-model': { type: 'string', default: '256' },
    heads: { type: 'string', default: '4' },
    vocab: { type: 'string', default: '256' },
    ctx: { type: 'string', default: '128' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    forward: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const n = (k: keyof typeof a) => Number(a[k]);
const [B, T, V, threads, steps] = [n('batch'), n('ctx'), n('vocab'), n('threads'), n('steps')];

const model = new Gpt2({
  vocabSize: V,
  maxPositions: T,
  dModel: n('d-model'),
  nLayers: n('layers'),
  nHeads: n('heads'),
  gelu: 'none',
});
const ids = g.input('input_ids', [B, T], 'int64');
const labels = g.input('labels', [B, T], 'int64');
const loss = g.crossEntropy(model.forward(ids).logits, labels);
const forwardOnly = a.forward!;
const t0 = performance.now();
/** One timed unit: a whole training step, or (--forward) the forward pass and loss alone, parameters baked in. */
async function compileStep(): Promise<(batch: Record<string, HostTensor>) => Promise<number>> {
  if (forwardOnly) {
    const params = ParamStore.init(model.params.values(), 0);
    const p = await new OrtExecutor().compile(
      { loss },
      { threads, initializers: new Map([...params.values].map(([k, v]) => [k, v.data])) },
    );
    return async (b) => (await p.run(b)).loss!.data[0] as number;
  }
  const step = await TrainStep.create({
    loss,
    optimizer: defaultAdamW({ betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 }),
    clipNorm: 1,
    threads,
    seed: 0,
  });
  return async (b) => (await step.run(b, 3e-4)).loss;
}
const runStep = await compileStep();
const compileS = (performance.now() - t0) / 1000;

const rng = mulberry32(1234);
const batch = () => {
  const x = Array.from({ length: B * (T + 1) }, () => Math.floor(rng() * V));
  const inp: number[] = [],
    tgt: number[] = [];
  for (let b = 0; b < B; b++) {
    inp.push(...x.slice(b * (T + 1), b * (T + 1) + T));
    tgt.push(...x.slice(b * (T + 1) + 1, (b + 1) * (T + 1)));
  }
  return { input_ids: hostTensor('int64', [B, T], inp), labels: hostTensor('int64', [B, T], tgt) };
};
const fixed = batch();
let first = NaN,
  last = NaN;
for (let i = 0; i < 3; i++) first = await runStep(fixed);
const fmt = (x: number, d = 3) => x.toFixed(d);
console.log(
  `model: GPT ${n('layers')}L d${n('d-model')} h${n('heads')} V${V} T${T} B${B}, ${model.paramCount().toLocaleString()} params, ${forwardOnly ? 'forward pass and loss only' : 'AdamW + clip'}, fp32, ${threads} threads`,
);

// Retort and PyTorch take turns, round after round: the machine's speed drifts by tens of percent
// over minutes, so each round's ratio compares the two under the same conditions.
const peerArgs = [
  ...(forwardOnly ? ['--forward-only'] : []),
  '--layers',
  String(n('layers')),
  '--d-model',
  String(n('d-model')),
  '--heads',
  String(n('heads')),
  '--vocab',
  String(V),
  '--ctx',
  String(T),
  '--batch',
  String(B),
  '--steps',
  String(steps),
  '--threads',
  String(threads),
];
const peak = new GemmPeak(threads);
let rssMb = 0;
const rounds = await interleave(
  n('rounds'),
  a['no-peer'],
  async () => {
    const times = await timeSteps(steps, async () => (last = await runStep(fixed)));
    rssMb ||= peakRssMb(); // before the GEMM probe allocates its own matrices
    await peak.sample();
    return median(times);
  },
  () => runPeer(new URL('./torch_train_step.py', import.meta.url).pathname, peerArgs, threads),
);
const retortS = median(rounds.map((r) => r.retortS));
const retort = {
  step_s_median: retortS,
  tokens_per_s: (B * T) / retortS,
  rounds: rounds.map((r) => r.retortS),
  peak_rss_mb: rssMb,
  params: model.paramCount(),
  compile_s: compileS,
  loss_first: first,
  loss_last: last,
};
console.log(
  `retort  (onnxruntime): ${fmt(retortS)} s/step (median of ${rounds.length} rounds: ${retort.rounds.map((x) => fmt(x)).join(', ')}), ${retort.tokens_per_s.toFixed(0)} tokens/s, peak RSS ${retort.peak_rss_mb.toFixed(0)} MB, compile ${fmt(compileS, 1)} s, loss ${fmt(first)} → ${fmt(last)}`,
);
const peerS = reportPeer(
  rounds,
  (p) => `peak RSS ${Number(p.peak_rss_mb).toFixed(0)} MB${p.variant ? ` (${p.variant})` : ''}`,
  retort.peak_rss_mb,
);
const floor = gemmFloor(forwardOnly ? [loss] : [loss, ...grad(loss, [...model.params.values()])], peak);
console.log(describeFloor(floor, peerS));
console.log(JSON.stringify({ retort, floor, pytorch_step_s_median: peerS ?? null }));
