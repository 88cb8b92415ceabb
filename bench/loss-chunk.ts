// Benchmark: a KD step at a real vocabulary with the losses over the vocabulary chunked (lossChunk
// 'auto') against the same step unchunked ('off'), each in a process of its own so each peak
// resident memory is its own. Qwen-shaped student (d 256, 4 layers, tied embeddings) and an
// in-graph teacher of the same vocabulary, dense logit KD (α 0.5, T 2) + CE, AdamW, one
// onnxruntime run per step. Rounds alternate the two settings; medians are reported.
//   npx tsx bench/loss-chunk.ts [--vocab 151936] [--batch 4] [--seq 256] [--steps 3] [--rounds 2] [--threads 2]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDistillObjective } from '../src/distill/compose/index.ts';
import { Llama } from '../src/models/index.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, ParamStore } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    vocab: { type: 'string', default: '151936' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '256' },
    steps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    setting: { type: 'string' },
  },
});
const [V, B, T, threads] = [Number(a.vocab), Number(a.batch), Number(a.seq), Number(a.threads)];

if (a.setting === undefined) {
  const runs: Record<string, { s: number; rss: number; loss: number }[]> = { off: [], auto: [] };
  for (let r = 0; r < Number(a.rounds); r++) {
    for (const setting of r % 2 ? ['auto', 'off'] : ['off', 'auto']) {
      const args = [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        ...process.argv.slice(2),
        '--setting',
        setting,
      ];
      const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (child.status !== 0)
        throw new Error(`lossChunk ${setting}: ${child.stderr.trim().split('\n').slice(-5).join(' | ')}`);
      runs[setting]!.push(JSON.parse(child.stdout.trim().split('\n').at(-1)!));
    }
  }
  const rows = B * T;
  console.log(
    `KD step, V ${V}, batch ${B} × ${T} (${rows} positions: one (positions, V) float32 matrix is ${((rows * V * 4) / 2 ** 20).toFixed(0)} MB), ${threads} threads, ${a.rounds} rounds`,
  );
  for (const [k, xs] of Object.entries(runs)) {
    const s = median(xs.map((x) => x.s));
    console.log(
      `lossChunk ${k.padEnd(4)}: ${s.toFixed(3)} s/step, ${(rows / s).toFixed(0)} tokens/s, peak RSS ${median(xs.map((x) => x.rss)).toFixed(0)} MB, loss ${xs[0]!.loss.toFixed(6)}`,
    );
  }
  const [off, auto] = [median(runs.off!.map((x) => x.rss)), median(runs.auto!.map((x) => x.rss))];
  const [offS, autoS] = [median(runs.off!.map((x) => x.s)), median(runs.auto!.map((x) => x.s))];
  console.log(`chunked / unchunked: peak RSS ${(auto / off).toFixed(2)}×, step time ${(autoS / offS).toFixed(2)}×`);
} else {
  const config = {
    vocabSize: V,
    maxPositions: T,
    dModel: 256,
    nHeads: 4,
    nKvHeads: 2,
    mlpHidden: 768,
    dialect: 'qwen2' as const,
    tieWordEmbeddings: true,
  };
  const teacherConfig = { ...config, nLayers: 2 };
  const teacherModel = new Llama(teacherConfig);
  const teacher = new LocalTeacher('t', teacherModel, ParamStore.init(teacherModel.params.values(), 1));
  const obj = buildDistillObjective({
    student: new Llama({ ...config, nLayers: 4 }),
    teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Llama(teacherConfig) }],
    terms: [{ name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } }],
    batch: B,
    seq: T,
    train: true,
    lossChunk: a.setting === 'off' || a.setting === 'auto' ? a.setting : Number(a.setting),
  });
  const store = new ParamStore();
  obj.attachTeachers(store);
  const step = await TrainStep.create({
    loss: obj.total,
    trainable: obj.trainable,
    params: store,
    optimizer: defaultAdamW(),
    clipNorm: 1,
    threads,
  });
  const rng = mulberry32(5);
  const ids = Array.from({ length: B * T + 1 }, () => Math.floor(rng() * V));
  const batch = {
    input_ids: hostTensor('int64', [B, T], ids.slice(0, -1)),
    labels: hostTensor('int64', [B, T], ids.slice(1)),
    'loss.weight.kd': hostTensor('float32', [], [1]),
  };
  const loss = (await step.run(batch, 0)).loss;
  const s = median(await timeSteps(Number(a.steps), () => step.run(batch, 0)));
  console.log(JSON.stringify({ s, rss: peakRssMb(), loss }));
}
