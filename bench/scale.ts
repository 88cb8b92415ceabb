// Benchmark: distillation at Qwen2.5-0.5B's scale, against PyTorch 1.13 doing the same work in the
// same run. The teacher is Qwen2.5-0.5B-shaped (hidden 896, 24 layers, 14 heads, 2 KV heads,
// intermediate 4864, vocab 151,936, tied embeddings) with random weights, written as a Hugging Face
// folder in BF16; the student is Qwen-shaped (d 256, 4 layers, 4 heads, 2 KV heads, tied
// embeddings, the same vocabulary: 42M parameters). Both sides load those folders (BF16 widened to
// float32) and run the same batches, in float32:
//   labelling    top-k (k 20) labelling at 8 × 256: Retort's LocalTeacher.score, what `retort label`
//                runs; PyTorch under no_grad: forward + log_softmax + topk.
//   kd-small     one KD step, in-graph teacher, dense logit KD + CE (α 0.5, T 2), clipping at 1,
//   kd-large     AdamW, at 4 × 128 and 8 × 512. Retort with lossChunk 'auto' (the default), PyTorch
//                with the plain dense loss.
//   store-small  the same step from an offline store: the teacher's top-k targets (labelled once
//   store-large  into a compact store) fed as inputs, a 'topk' term; Retort reads them through
//                StoreTeacher each step, PyTorch gets the same arrays.
// Each Retort figure comes from a process of its own (its peak RSS is its VmHWM), each PyTorch
// figure from the peer (bench/torch_scale.py), in turns for --rounds rounds. Each step's floor is
// its matmul FLOPs (teacher forward, student forward and gradients, LM heads at the full
// vocabulary, counted on the unchunked trace of the same step) at the best GEMM rate measured.
//   npx tsx bench/scale.ts [--only labelling,kd-small,kd-large,store-small,store-large | kd | store]
//     [--rounds 3] [--steps 3] [--threads 2] [--teacher-layers 24] [--vocab 151936] [--top-k 20]
//     [--loss-chunk auto] [--profile] [--profile-top 15] [--dir DIR] [--no-peer]
// A quick check at small size (a few minutes): --teacher-layers 2 --vocab 8192 --rounds 1 --steps 2.
// --dir keeps the weights, batches and stores in DIR and reuses them when they fit the flags
// (writing the full-size teacher takes minutes); without it they go to a temporary folder.
// --profile: after the timed rounds, one more Retort run of each setting with onnxruntime's
// profiling on, summed by op type and by node (bench/profile.ts).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { grad } from '../src/autodiff/index.ts';
import { buildDistillObjective, type LossTerm, type TeacherSlot } from '../src/distill/compose/index.ts';
import type { LossChunkSetting } from '../src/distill/losses/index.ts';
import { labelDataset, StoreReader, StoreTeacher } from '../src/distill/store/index.ts';
import { input, topoSort } from '../src/graph/index.ts';
import { Llama, loadHfModel, saveHfModel, type LlamaConfigInput } from '../src/models/index.ts';
import { defaultAdamW, TrainStep } from '../src/optim/index.ts';
import { hostTensor, mulberry32, OrtExecutor, ParamStore, type HostTensor } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { interleave, reportPeer, runPeer } from './peer.ts';
import { describeProfile, profileFiles, summarizeProfile, type ProfileSummary } from './profile.ts';
import { describeFloor, GemmPeak, matmulFlops } from './roofline.ts';
import { median, peakRssMb, timeSteps } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    only: { type: 'string', default: 'labelling,kd-small,kd-large,store-small,store-large' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'teacher-layers': { type: 'string', default: '24' },
    vocab: { type: 'string', default: '151936' },
    'top-k': { type: 'string', default: '20' },
    'loss-chunk': { type: 'string', default: 'auto' },
    profile: { type: 'boolean', default: false },
    'profile-top': { type: 'string', default: '15' },
    dir: { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    // Internal: what a child process does.
    child: { type: 'string' },
    prepare: { type: 'boolean', default: false },
    'profile-out': { type: 'string' },
  },
});
const int = (name: keyof typeof a, min = 1): number => {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} ${a[name]}: expected an integer ≥ ${min}`);
  return v;
};
const [rounds, steps, threads, teacherLayers, V, topK, seed] = [
  int('rounds'),
  int('steps'),
  int('threads'),
  int('teacher-layers'),
  int('vocab', 2),
  int('top-k'),
  int('seed', 0),
];
const lossChunk: LossChunkSetting =
  a['loss-chunk'] === 'auto' || a['loss-chunk'] === 'off' ? a['loss-chunk'] : Number(a['loss-chunk']);
if (typeof lossChunk === 'number' && !(Number.isInteger(lossChunk) && lossChunk > 0))
  throw new Error(`--loss-chunk ${a['loss-chunk']}: expected auto, off or a number of positions per chunk`);
const [ALPHA, TEMPERATURE, LR] = [0.5, 2, 3e-4];

// ---------------------------------------------------------------- the settings, one row each
type Kind = 'labelling' | 'kd' | 'store';
interface Setting {
  kind: Kind;
  batch: number;
  seq: number;
  what: string;
  /** The targets the write-up is held to (printed beside the figures, not asserted). */
  targets: { speed?: number; rss?: number; floor?: number };
}
const SETTINGS = {
  labelling: {
    kind: 'labelling',
    batch: 8,
    seq: 256,
    what: 'top-k labelling: teacher forward, log-softmax, top-k (Retort: LocalTeacher.score, as `retort label`)',
    targets: { speed: 1.5 },
  },
  'kd-small': {
    kind: 'kd',
    batch: 4,
    seq: 128,
    what: 'KD step, in-graph teacher, dense logit KD + CE',
    targets: { speed: 3, floor: 1.5 },
  },
  'kd-large': {
    kind: 'kd',
    batch: 8,
    seq: 512,
    what: 'KD step, in-graph teacher, dense logit KD + CE',
    targets: { speed: 3, rss: 0.5, floor: 1.5 },
  },
  'store-small': {
    kind: 'store',
    batch: 4,
    seq: 128,
    what: "KD step from an offline store, the teacher's top-k targets fed ('topk' term)",
    targets: {},
  },
  'store-large': {
    kind: 'store',
    batch: 8,
    seq: 512,
    what: "KD step from an offline store, the teacher's top-k targets fed ('topk' term)",
    targets: {},
  },
} satisfies Record<string, Setting>;
type SettingName = keyof typeof SETTINGS;
const ALIASES: Record<string, SettingName[]> = {
  kd: ['kd-small', 'kd-large'],
  store: ['store-small', 'store-large'],
  all: Object.keys(SETTINGS) as SettingName[],
};
const chosen: SettingName[] = [
  ...new Set(
    a.only!.split(',').flatMap((s) => {
      const name = s.trim();
      if (name in SETTINGS) return [name as SettingName];
      if (ALIASES[name]) return ALIASES[name]!;
      throw new Error(
        `--only ${a.only}: '${name}' is not a setting; use ${[...Object.keys(SETTINGS), ...Object.keys(ALIASES)].join(', ')}`,
      );
    }),
  ),
];
const shapeOf = (s: Setting) => `${s.batch}x${s.seq}`;

const teacherConfig: LlamaConfigInput = {
  dialect: 'qwen2',
  vocabSize: V,
  maxPositions: 32768,
  dModel: 896,
  nLayers: teacherLayers,
  nHeads: 14,
  nKvHeads: 2,
  mlpHidden: 4864,
  rmsNormEps: 1e-6,
  ropeTheta: 1e6,
  tieWordEmbeddings: true,
};
const studentConfig: LlamaConfigInput = {
  ...teacherConfig,
  dModel: 256,
  nLayers: 4,
  nHeads: 4,
  nKvHeads: 2,
  mlpHidden: 768,
};

// ---------------------------------------------------------------- the work folder
/** What a work folder holds: weights of one teacher and student, and batches and stores by shape. */
interface Spec {
  teacherLayers: number;
  vocab: number;
  topK: number;
  seed: number;
  shapes: string[];
  stores: string[];
}
const spec: Spec = {
  teacherLayers,
  vocab: V,
  topK,
  seed,
  shapes: [...new Set(chosen.map((n) => shapeOf(SETTINGS[n])))].sort(),
  stores: [...new Set(chosen.filter((n) => SETTINGS[n].kind === 'store').map((n) => shapeOf(SETTINGS[n])))].sort(),
};
/** The fields that decide the weights: a folder written with others is written again whole. */
const sameWeights = (x: Spec, y: Spec) =>
  x.teacherLayers === y.teacherLayers && x.vocab === y.vocab && x.topK === y.topK && x.seed === y.seed;
const SPEC_FILE = 'spec.json';

const idsFile = (dir: string, b: number, t: number) => join(dir, `ids-${b}x${t}.i32`);

/** (B, T + 1) token ids: inputs are [:, :T], labels [:, 1:]. */
function readRows(dir: string, b: number, t: number): { ids: HostTensor; labels: HostTensor; rows: Int32Array[] } {
  const buf = readFileSync(idsFile(dir, b, t));
  const all = new Int32Array(buf.buffer, buf.byteOffset, b * (t + 1));
  const rows = Array.from({ length: b }, (_, r) => all.slice(r * (t + 1), r * (t + 1) + t));
  const ids = new BigInt64Array(b * t),
    labels = new BigInt64Array(b * t);
  for (let r = 0; r < b; r++)
    for (let i = 0; i < t; i++) {
      ids[r * t + i] = BigInt(all[r * (t + 1) + i]!);
      labels[r * t + i] = BigInt(all[r * (t + 1) + i + 1]!);
    }
  return { ids: hostTensor('int64', [b, t], ids), labels: hostTensor('int64', [b, t], labels), rows };
}

/** A Hugging Face causal-LM folder, as `retort` loads a teacher from one. */
function loadLm(folder: string) {
  const loaded = loadHfModel(folder, { task: 'causal-lm' });
  if (loaded.task !== 'causal-lm') throw new Error(`${folder} is not a causal LM`);
  return loaded;
}

const writeBin = (path: string, ...parts: ArrayBufferView[]) =>
  writeFileSync(path, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));

/**
 * Writes what the chosen settings need and `dir` lacks: the teacher (BF16) and student (F32)
 * folders, the batches, and the stores with the targets they serve; spec.json says what is there.
 */
async function prepare(dir: string): Promise<void> {
  const log = (line: string) => process.stderr.write(`prepare: ${line}\n`);
  const specFile = join(dir, SPEC_FILE);
  let have = existsSync(specFile) ? (JSON.parse(readFileSync(specFile, 'utf8')) as Spec) : undefined;
  if (!have || !sameWeights(have, spec)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`teacher (${teacherLayers} layers, V ${V}), random weights, BF16`);
    {
      const model = new Llama(teacherConfig);
      mkdirSync(join(dir, 'teacher'));
      saveHfModel(join(dir, 'teacher'), model, ParamStore.init(model.params.values(), seed), { dtype: 'BF16' });
    }
    log('student, F32');
    const student = new Llama(studentConfig);
    mkdirSync(join(dir, 'student'));
    saveHfModel(join(dir, 'student'), student, ParamStore.init(student.params.values(), seed + 1));
    have = { ...spec, shapes: [], stores: [] };
    writeFileSync(specFile, `${JSON.stringify(have)}\n`);
  }
  const done = have;
  for (const shape of spec.shapes.filter((x) => !done.shapes.includes(x))) {
    const [b, t] = shape.split('x').map(Number) as [number, number];
    const rng = mulberry32(seed * 7919 + b * 1009 + t);
    writeBin(
      idsFile(dir, b, t),
      Int32Array.from({ length: b * (t + 1) }, () => Math.floor(rng() * V)),
    );
    done.shapes.push(shape);
  }
  const stores = spec.stores.filter((x) => !done.stores.includes(x));
  if (stores.length > 0) {
    process.env.RETORT_THREADS = String(threads);
    const loaded = loadLm(join(dir, 'teacher'));
    const teacher = new LocalTeacher('t', loaded.model, loaded.params);
    for (const shape of stores) {
      const [b, t] = shape.split('x').map(Number) as [number, number];
      log(`store of the ${shape} batch's top-${topK} targets`);
      const { ids, rows } = readRows(dir, b, t);
      const storeDir = join(dir, `store-${shape}`);
      rmSync(storeDir, { recursive: true, force: true });
      // One row per teacher call keeps the (rows, V) logits small at the full vocabulary.
      await labelDataset(teacher, rows, storeDir, { topK, tokenizer: 'none', batch: 1 });
      // What StoreTeacher serves is what the peer gets: ids, fp16-rounded log-probs and the tail.
      const reader = new StoreReader(storeDir);
      const r = await new StoreTeacher('t', reader, rows).score({ ids, topK });
      reader.close();
      const tk = r.topk!;
      writeBin(
        join(dir, `targets-${shape}.bin`),
        Int32Array.from(tk.ids.data as BigInt64Array, Number),
        tk.logprobs.data as Float32Array,
        tk.tail!.data as Float32Array,
      );
      done.stores.push(shape);
    }
  }
  done.shapes.sort();
  done.stores.sort();
  writeFileSync(specFile, `${JSON.stringify(done)}\n`);
}

// ---------------------------------------------------------------- a Retort run (child process)
interface RetortFigures {
  /** Median seconds per step (labelling: per batch). */
  s: number;
  times: number[];
  /** VmHWM at the end, and right after the weights were loaded. */
  rss: number;
  loadRss: number;
  firstLoss?: number;
  secondLoss?: number;
  /** Matmul work of one step. */
  gflop: number;
  /** Median seconds of a step spent reading the fed teacher's targets (store settings). */
  feedS?: number;
  profile?: ProfileSummary;
}

async function retortRun(name: SettingName, dir: string, profile?: string): Promise<RetortFigures> {
  const st: Setting = SETTINGS[name];
  const [b, t] = [st.batch, st.seq];
  process.env.RETORT_THREADS = String(threads); // LocalTeacher compiles with the default thread count
  const executor = new OrtExecutor(profile ? { profile } : {});
  const { ids, labels, rows } = readRows(dir, b, t);
  let fig: Omit<RetortFigures, 'rss' | 'profile'>;
  let warmRuns: number;
  if (st.kind === 'labelling') {
    const loaded = loadLm(join(dir, 'teacher'));
    const loadRss = peakRssMb();
    const teacher = new LocalTeacher('t', loaded.model, loaded.params, undefined, executor);
    const label = () => teacher.score({ ids, topK });
    const first = await label();
    writeBin(
      join(dir, `retort-topk-${shapeOf(st)}.bin`),
      Int32Array.from(first.topk!.ids.data as BigInt64Array, Number),
      first.topk!.logprobs.data as Float32Array,
    );
    const times = await timeSteps(steps, label);
    const gflop = matmulFlops([loaded.model.forward(input('input_ids', [b, t], 'int64')).logits]) / 1e9;
    fig = { s: median(times), times, loadRss, gflop };
    warmRuns = 1;
  } else {
    const student = loadLm(join(dir, 'student'));
    let slot: TeacherSlot;
    let term: LossTerm;
    let reader: StoreReader | undefined;
    if (st.kind === 'kd') {
      const loaded = loadLm(join(dir, 'teacher'));
      const teacher = new LocalTeacher('t', loaded.model, loaded.params, undefined, executor);
      slot = { name: 't', teacher, mode: 'in-graph', rebuild: () => new Llama(loaded.config as LlamaConfigInput) };
      term = { name: 'kd', config: { kind: 'logits', alpha: ALPHA, temperature: TEMPERATURE } };
    } else {
      reader = new StoreReader(join(dir, `store-${shapeOf(st)}`));
      slot = { name: 't', teacher: new StoreTeacher('t', reader, rows), mode: 'fed' };
      term = { name: 'kd', config: { kind: 'topk', alpha: ALPHA, temperature: TEMPERATURE }, topK };
    }
    const loadRss = peakRssMb();
    const build = (chunk: LossChunkSetting) =>
      buildDistillObjective({
        student: student.model,
        teachers: [slot],
        terms: [term],
        batch: b,
        seq: t,
        train: true,
        lossChunk: chunk,
      });
    const obj = build(lossChunk);
    const store = student.params;
    obj.attachTeachers(store);
    const step = await TrainStep.create({
      loss: obj.total,
      trainable: obj.trainable,
      params: store,
      optimizer: defaultAdamW(),
      clipNorm: 1,
      threads,
      executor,
    });
    const batch = { input_ids: ids, labels, 'loss.weight.kd': hostTensor('float32', [], [1]) };
    // A fed teacher's inputs are read each step, as the trainer does (from the store here).
    const feedTimes: number[] = [];
    const run = async () => {
      const t0 = performance.now();
      const feeds = await obj.teacherFeeds(ids);
      feedTimes.push((performance.now() - t0) / 1000);
      return step.run({ ...batch, ...feeds }, LR);
    };
    const firstLoss = (await run()).loss;
    const secondLoss = (await run()).loss;
    const times = await timeSteps(steps, run);
    const feedS = median(feedTimes.slice(2));
    reader?.close();
    // The floor counts the unchunked trace of the same step: the chunked one computes the heads'
    // matmuls inside its loop's body, the same products over chunks of rows.
    const dense = build('off');
    const trainable = topoSort([dense.total]).filter((x) => x.leaf === 'param' && dense.trainable(x.name!));
    const gflop = matmulFlops([dense.total, ...grad(dense.total, trainable)]) / 1e9;
    fig = { s: median(times), times, loadRss, firstLoss, secondLoss, gflop, ...(st.kind === 'store' ? { feedS } : {}) };
    warmRuns = 2;
  }
  const rss = peakRssMb();
  if (!profile) return { ...fig, rss };
  await executor.endProfiling();
  // One session profiles the step (a labelling run's is the teacher's); take the largest file.
  const file = profileFiles(profile).sort((x, y) => statSync(y).size - statSync(x).size)[0];
  if (!file) throw new Error(`no onnxruntime profile was written at ${profile}_*.json`);
  const p = summarizeProfile(file, { skipRuns: warmRuns });
  return { ...fig, rss, profile: { ...p, nodes: p.nodes.slice(0, 30) } };
}

// ---------------------------------------------------------------- the parent
const script = fileURLToPath(import.meta.url);

function child(args: string[]): string {
  const common = [
    '--teacher-layers',
    String(teacherLayers),
    '--vocab',
    String(V),
    '--top-k',
    String(topK),
    '--seed',
    String(seed),
    '--steps',
    String(steps),
    '--threads',
    String(threads),
    '--loss-chunk',
    String(a['loss-chunk']),
    '--only',
    chosen.join(','),
  ];
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...common, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`bench/scale.ts ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

const runRetort = (name: SettingName, dir: string, profile?: string): RetortFigures =>
  JSON.parse(child(['--child', name, '--dir', dir, ...(profile ? ['--profile-out', profile] : [])]));

/** Top-k agreement of two (B·T·k) id lists with their log-probs, most likely first. */
function compareTopK(dir: string, s: Setting): string {
  const n = s.batch * s.seq * topK;
  const read = (f: string) => {
    const buf = readFileSync(join(dir, f));
    return {
      ids: new Int32Array(buf.buffer, buf.byteOffset, n),
      lps: new Float32Array(buf.buffer, buf.byteOffset + 4 * n, n),
    };
  };
  const r = read(`retort-topk-${shapeOf(s)}.bin`),
    p = read(`torch-topk-${shapeOf(s)}.bin`);
  const positions = s.batch * s.seq;
  let top1 = 0,
    sameOrder = 0,
    sameSet = 0,
    maxDiff = 0;
  for (let i = 0; i < positions; i++) {
    const ri = r.ids.subarray(i * topK, (i + 1) * topK),
      pi = p.ids.subarray(i * topK, (i + 1) * topK);
    if (ri[0] === pi[0]) top1++;
    if (ri.every((x, j) => x === pi[j])) sameOrder++;
    const set = new Set(pi);
    if (ri.every((x) => set.has(x))) sameSet++;
    // Log-probs by rank: equal whichever of two near-tied tokens each side ranked first.
    for (let j = 0; j < topK; j++) maxDiff = Math.max(maxDiff, Math.abs(r.lps[i * topK + j]! - p.lps[i * topK + j]!));
  }
  const pct = (x: number) => `${((100 * x) / positions).toFixed(2)}%`;
  return `top-${topK} agreement with PyTorch over ${positions} positions: top-1 id ${pct(top1)}, same ${topK} ids ${pct(sameSet)}, same ids in the same order ${pct(sameOrder)}; log-probs by rank differ by at most ${maxDiff.toExponential(2)}`;
}

interface Row {
  name: SettingName;
  speed?: number;
  rss?: number;
  floor: number;
}

async function parent(): Promise<void> {
  const temporary = a.dir === undefined;
  const dir = a.dir ?? mkdtempSync(join(tmpdir(), 'retort-scale-'));
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, SPEC_FILE)))
    throw new Error(`--dir ${dir} holds files this benchmark did not write; give an empty or new folder`);
  try {
    child(['--prepare', '--dir', dir]);
    const tp = new Llama(teacherConfig).paramCount(),
      sp = new Llama(studentConfig).paramCount();
    console.log(
      `scale: teacher Qwen2-shaped ${teacherLayers}L d896 14/2 heads, MLP 4864, V ${V} (${(tp / 1e6).toFixed(1)}M params, BF16 file, run in float32) → student 4L d256 4/2 heads, MLP 768 (${(sp / 1e6).toFixed(1)}M), tied embeddings; ${threads} threads, ${rounds} rounds of ${steps} steps, lossChunk ${a['loss-chunk']}`,
    );
    const peak = new GemmPeak(threads);
    await peak.sample(); // and after each Retort run: the floor takes the best rate seen
    const summary: Row[] = [];
    for (const name of chosen) {
      const st: Setting = SETTINGS[name];
      const tokens = st.batch * st.seq;
      console.log(
        `\n== ${name}: ${st.what}, batch ${st.batch} × ${st.seq} (${tokens} tokens)${st.kind === 'labelling' ? `, k ${topK}` : `, α ${ALPHA}, T ${TEMPERATURE}, AdamW, clip 1${st.kind === 'store' ? `, k ${topK}` : `, lossChunk ${a['loss-chunk']}`}`}`,
      );
      const figs: RetortFigures[] = [];
      const peerArgs = [
        '--work',
        dir,
        '--config',
        st.kind,
        '--batch',
        String(st.batch),
        '--seq',
        String(st.seq),
        '--top-k',
        String(topK),
        '--steps',
        String(steps),
        '--threads',
        String(threads),
        ...(st.kind === 'labelling' ? ['--dump', join(dir, `torch-topk-${shapeOf(st)}.bin`)] : []),
      ];
      const rs = await interleave(
        rounds,
        a['no-peer'],
        async () => {
          const f = runRetort(name, dir);
          figs.push(f);
          await peak.sample();
          return f.s;
        },
        () => runPeer(new URL('./torch_scale.py', import.meta.url).pathname, peerArgs, threads),
      );
      const retortS = median(figs.map((f) => f.s));
      const rss = median(figs.map((f) => f.rss));
      const unit = st.kind === 'labelling' ? 's/batch' : 's/step';
      console.log(
        `retort  (onnxruntime): ${retortS.toFixed(3)} ${unit} (median of ${figs.length} rounds: ${figs.map((f) => f.s.toFixed(3)).join(', ')}), ${(tokens / retortS).toFixed(0)} tokens/s, peak RSS ${rss.toFixed(0)} MB (${median(figs.map((f) => f.loadRss)).toFixed(0)} MB of it reached loading the weights)${figs[0]!.feedS === undefined ? '' : `; of each step, ${(1000 * median(figs.map((f) => f.feedS!))).toFixed(1)} ms reading the store's targets`}`,
      );
      const peerS = reportPeer(
        rs,
        (p) =>
          `${Number(p.tokens_per_s).toFixed(0)} tokens/s at its last round, peak RSS ${Number(p.peak_rss_mb).toFixed(0)} MB (${Number(p.load_peak_rss_mb).toFixed(0)} MB of it reached loading)`,
        rss,
      );
      const last = rs
        .map((r) => r.peer)
        .filter((p) => p?.ok)
        .pop();
      if (last?.ok && st.kind === 'labelling') console.log(compareTopK(dir, st));
      if (last?.ok && st.kind !== 'labelling') {
        const [r1, p1] = [figs[0]!.firstLoss!, Number(last.figures.first_loss)];
        console.log(
          `loss, same weights and rows: first step retort ${r1.toFixed(6)}, pytorch ${p1.toFixed(6)} (relative difference ${(Math.abs(r1 - p1) / Math.abs(p1)).toExponential(1)}); second step ${figs[0]!.secondLoss!.toFixed(6)} vs ${Number(last.figures.loss).toFixed(6)}`,
        );
      }
      const gflop = figs[0]!.gflop;
      const floor = { gflop, peakGflops: peak.best / 1e9, floorS: (gflop * 1e9) / peak.best };
      console.log(describeFloor(floor, peerS));
      console.log(`retort's ${unit.slice(2)} ÷ floor = ${(retortS / floor.floorS).toFixed(2)}x`);
      const peerRss = last?.ok ? Number(last.figures.peak_rss_mb) : undefined;
      summary.push({
        name,
        speed: peerS === undefined ? undefined : peerS / retortS,
        rss: peerRss === undefined ? undefined : rss / peerRss,
        floor: retortS / floor.floorS,
      });
      if (a.profile) {
        const prefix = join(dir, `profile-${name}`);
        for (const f of readdirSync(dir)) if (f.startsWith(`profile-${name}_`)) rmSync(join(dir, f));
        const f = runRetort(name, dir, prefix);
        console.log(
          `where the time goes (one more Retort run with onnxruntime's profiling on, which slows its steps: ${f.s.toFixed(3)} ${unit} against ${retortS.toFixed(3)} unprofiled)`,
        );
        for (const line of describeProfile(f.profile!, int('profile-top'), f.gflop)) console.log(line);
      }
    }
    console.log('\nsummary (Retort ÷ PyTorch; targets in brackets, not asserted):');
    for (const r of summary) {
      const t: Setting['targets'] = SETTINGS[r.name].targets;
      const mark = (ok: boolean) => (ok ? 'met' : 'not met');
      const parts = [
        r.speed === undefined
          ? 'tokens/s: no peer'
          : `tokens/s ${r.speed.toFixed(2)}x${t.speed ? ` [≥ ${t.speed}x: ${mark(r.speed >= t.speed)}]` : ''}`,
        r.rss === undefined
          ? ''
          : `peak RSS ${r.rss.toFixed(2)}x${t.rss ? ` [≤ ${t.rss}x: ${mark(r.rss <= t.rss)}]` : ''}`,
        `step ÷ floor ${r.floor.toFixed(2)}x${t.floor ? ` [≤ ${t.floor}x: ${mark(r.floor <= t.floor)}]` : ''}`,
      ].filter(Boolean);
      console.log(`  ${r.name.padEnd(12)} ${parts.join(', ')}`);
    }
  } finally {
    if (temporary) rmSync(dir, { recursive: true, force: true });
  }
}

if (a.prepare) await prepare(a.dir!);
else if (a.child !== undefined) {
  if (!(a.child in SETTINGS)) throw new Error(`--child ${a.child}: not a setting`);
  console.log(JSON.stringify(await retortRun(a.child as SettingName, a.dir!, a['profile-out'])));
} else await parent();
