// Benchmark: what a session run's large outputs cost beyond the work that writes them. A training
// step's outputs are the new parameters and both AdamW moments (504 MB for the 42M-parameter,
// 151,936-token student of bench/scale.ts); onnxruntime-node 1.30 copies each output into a fresh
// ArrayBuffer even when it was written into a buffer handed to it (the run's `into`), and fresh
// memory is paid for in page faults on first touch. Two programs do the same work, x·2 over three
// inputs of --mb MB each: one outputs the three products (into preallocated buffers, as TrainStep
// does), the other only their sums. Rounds alternate them; medians and minor page faults per run
// are reported.
//   npx tsx bench/output-copy.ts [--mb 168] [--rounds 12] [--threads 2]
// Run it again under GLIBC_TUNABLES=glibc.malloc.hugetlb=1 to see the faults with huge pages.
import { parseArgs } from 'node:util';
import { input, mul, reduceSum } from '../src/graph/index.ts';
import { hostTensor, OrtExecutor, type HostTensor } from '../src/runtime/index.ts';
import { median } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '168' },
    rounds: { type: 'string', default: '12' },
    threads: { type: 'string', default: '2' },
  },
});
const [mb, rounds, threads] = [Number(a.mb), Number(a.rounds), Number(a.threads)];
if (!(mb > 0) || !Number.isInteger(rounds) || rounds < 3 || !Number.isInteger(threads) || threads < 1)
  throw new Error('--mb must be positive, --rounds an integer ≥ 3, --threads an integer ≥ 1');

const n = Math.round((mb * 2 ** 20) / 4);
const xs = [0, 1, 2].map((i) => input(`x${i}`, [n], 'float32'));
const executor = new OrtExecutor();
const whole = await executor.compile(Object.fromEntries(xs.map((x, i) => [`y${i}`, mul(x, 2)])), { threads });
const summed = await executor.compile(Object.fromEntries(xs.map((x, i) => [`y${i}`, reduceSum(mul(x, 2))])), {
  threads,
});
const filled = (): HostTensor => hostTensor('float32', [n], new Float32Array(n).fill(1));
const feeds = Object.fromEntries(xs.map((_, i) => [`x${i}`, filled()]));
const into = Object.fromEntries(xs.map((_, i) => [`y${i}`, filled()]));

const runs = {
  whole: { ms: [] as number[], faults: [] as number[] },
  summed: { ms: [] as number[], faults: [] as number[] },
};
for (let r = 0; r < rounds; r++) {
  for (const name of ['whole', 'summed'] as const) {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    await (name === 'whole' ? whole.run(feeds, { into }) : summed.run(feeds));
    if (r < 2) continue; // warm-up: the arena's first allocations
    runs[name].ms.push(performance.now() - t0);
    runs[name].faults.push(process.resourceUsage().minorPageFault - f0);
  }
}
const w = median(runs.whole.ms),
  s = median(runs.summed.ms);
console.log(
  `3 outputs of ${mb} MB into given buffers: ${w.toFixed(1)} ms/run, ${median(runs.whole.faults)} page faults; ` +
    `the same work with scalar outputs: ${s.toFixed(1)} ms/run, ${median(runs.summed.faults)} page faults ` +
    `(medians of ${rounds - 2} alternating rounds, ${threads} threads)`,
);
console.log(`the outputs cost ${(w - s).toFixed(1)} ms/run, ${(w / s).toFixed(2)}x the run without them`);
console.log(`GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}`);
