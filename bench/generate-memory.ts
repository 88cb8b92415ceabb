// Benchmark: resident memory of a Generator that has compiled programs for several batch shapes,
// with the weights shared by every program (fed as inputs, the default) against baked into each
// one (RunnerOptions.weights 'baked'), each in a process of its own.
//   npx tsx bench/generate-memory.ts                 (Llama 12L d768 GQA 12/4, vocab 32000: 125M params, 0.5 GB)
//   npx tsx bench/generate-memory.ts -- --layers 24 --batches 1,2,4,8,16
// Per batch size b: one greedy generation of --new-tokens from b prompts of --prompt-len tokens, which
// compiles a prefill (b, T) and a decode (b, cap) program. Figures: RSS after the parameters are made,
// after each batch size, the peak (VmHWM); then, in a third process holding both generators and
// alternating them (so both see the same machine load), the median decode step per batch size.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Generator } from '../src/generate/index.ts';
import { Llama } from '../src/models/llama/model.ts';
import { ParamStore } from '../src/runtime/index.ts';
import { median, peakRssMb } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    'd-model': { type: 'string', default: '768' },
    vocab: { type: 'string', default: '32000' },
    batches: { type: 'string', default: '1,2,4,8' },
    'prompt-len': { type: 'string', default: '16' },
    'new-tokens': { type: 'string', default: '16' },
    threads: { type: 'string', default: '2' },
    /** Internal: run one mode in this process and print its figures as JSON. */
    weights: { type: 'string' },
  },
  // `npx tsx bench/generate-memory.ts -- --layers 24`: options after the `--` count too.
  args: process.argv.slice(2).filter((x) => x !== '--'),
});

const rssMb = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

interface Figures {
  weights: string;
  paramsMb: number;
  afterParamsMb: number;
  /** RSS after each batch size's programs are compiled and run, in --batches order. */
  afterBatchMb: number[];
  peakMb: number;
}

const batches = a.batches!.split(',').map(Number);
const [P, N] = [Number(a['prompt-len']), Number(a['new-tokens'])];
const greedy = { maxNewTokens: N, eosTokenId: [] };

function setup() {
  const d = Number(a['d-model']);
  const model = new Llama({
    vocabSize: Number(a.vocab),
    maxPositions: 512,
    dModel: d,
    nLayers: Number(a.layers),
    nHeads: d / 64,
    nKvHeads: d / 192,
    mlpHidden: (8 * d) / 3,
  });
  const params = ParamStore.init(model.params.values(), 1);
  const prompts = (b: number) =>
    Array.from({ length: b }, (_, r) => Array.from({ length: P }, (_, i) => (i * 31 + r * 7) % model.config.vocabSize));
  return { model, params, prompts };
}

async function memory(weights: 'shared' | 'baked'): Promise<Figures> {
  const { model, params, prompts } = setup();
  const afterParamsMb = rssMb();
  const gen = new Generator(model, params, { threads: Number(a.threads), weights });
  const afterBatchMb: number[] = [];
  for (const b of batches) {
    await gen.generate(prompts(b), greedy);
    afterBatchMb.push(rssMb());
  }
  return { weights, paramsMb: (params.count() * 4) / 2 ** 20, afterParamsMb, afterBatchMb, peakMb: peakRssMb() };
}

/** Median decode step (ms) per batch size and mode, the two modes alternating so both see the same machine load. */
async function speed(rounds = 3): Promise<Record<string, number[]>> {
  const { model, params, prompts } = setup();
  const gens = {
    shared: new Generator(model, params, { threads: Number(a.threads) }),
    baked: new Generator(model, params, { threads: Number(a.threads), weights: 'baked' }),
  };
  const out: Record<string, number[]> = { shared: [], baked: [] };
  for (const b of batches) {
    const per: Record<string, number[]> = { shared: [], baked: [] };
    for (const g of Object.values(gens)) await g.generate(prompts(b), greedy); // compiles
    for (let r = 0; r < rounds; r++)
      for (const [k, g] of Object.entries(gens)) {
        const steps: number[] = [];
        let last = 0;
        for await (const e of g.stream(prompts(b), greedy)) {
          if (e.row !== 0) continue;
          const now = performance.now();
          if (last) steps.push(now - last);
          last = now;
        }
        per[k]!.push(median(steps));
      }
    for (const k of Object.keys(out)) out[k]!.push(median(per[k]!));
  }
  return out;
}

const child = (mode: string): unknown => {
  const args = process.argv.slice(2).filter((x) => x !== '--');
  const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, ...args, '--weights', mode], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`the ${mode} run exited with ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
};

if (a.weights === 'speed') console.log(JSON.stringify(await speed()));
else if (a.weights) console.log(JSON.stringify(await memory(a.weights as 'shared' | 'baked')));
else {
  const rows = (['shared', 'baked'] as const).map((w) => child(w) as Figures);
  const steps = child('speed') as Record<string, number[]>;
  const mb = (x: number) => x.toFixed(0).padStart(6);
  console.log(
    `Llama ${a.layers}L d${a['d-model']}, vocab ${a.vocab}: ${rows[0]!.paramsMb.toFixed(0)} MB of fp32 weights; batches ${a.batches}, prompt ${P}, ${N} new tokens, ${a.threads} threads`,
  );
  console.log(
    `weights  params MB  ${batches.map((b) => `after b${b}`.padStart(9)).join(' ')}   peak MB   decode step ms (median) per batch`,
  );
  for (const r of rows)
    console.log(
      `${r.weights.padEnd(8)} ${mb(r.afterParamsMb)}     ${r.afterBatchMb.map((x) => `${mb(x)}   `).join(' ')} ${mb(r.peakMb)}    ${steps[r.weights]!.map((x) => x.toFixed(1)).join(' / ')}`,
    );
}
