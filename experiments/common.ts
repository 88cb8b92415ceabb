// Shared pieces of the experiments: the SOTU corpus tokenized with a BPE trained on the training
// years, model factories, distillation runs through the Trainer, and side-by-side evaluation.
import { loadSotu } from '../src/data/sotu.ts';
import { buildDistillObjective, type DistillObjective, type LossTerm } from '../src/distill/compose/index.ts';
import { evalWindows, tokenWindows, Trainer } from '../src/distill/trainer/index.ts';
import * as g from '../src/graph/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { trainByteLevelBpe } from '../src/models/tokenizers/train-byte-level-bpe.ts';
import type { DecoderOutput } from '../src/models/types.ts';
import { defaultAdamW } from '../src/optim/index.ts';
import { defaultExecutor, ParamStore, type HostTensor } from '../src/runtime/index.ts';
import { logSoftmaxRow } from '../src/runtime/host-math.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import type { Gpt2ConfigInput } from '../src/models/gpt2/config.ts';

export interface Corpus {
  vocabSize: number;
  train: Int32Array;
  validation: Int32Array;
  trainYears: string;
  validationYears: string;
}

export function sotuCorpus(o: { upTo: number; validFrom: number; validTo: number; vocab: number; trainFrom?: number }): Corpus {
  const sotu = loadSotu();
  const trainText = sotu.filter((s) => s.year <= o.upTo && s.year >= (o.trainFrom ?? 0)).map((s) => s.text).join('\n\n');
  const validText = sotu.filter((s) => s.year >= o.validFrom && s.year <= o.validTo).map((s) => s.text).join('\n\n');
  const tok = trainByteLevelBpe([trainText.slice(0, 3_000_000)], { vocabSize: o.vocab });
  return {
    vocabSize: tok.vocabSize,
    train: Int32Array.from(tok.encode(trainText)),
    validation: Int32Array.from(tok.encode(validText)),
    trainYears: `${o.trainFrom ?? 1790}–${o.upTo}`,
    validationYears: `${o.validFrom}–${o.validTo}`,
  };
}

export interface RunSettings {
  steps: number;
  lr: number;
  batch: number;
  ctx: number;
  seed: number;
  dir: string;
}

export const paramCount = (m: { paramCount(): number }) => m.paramCount();

/** Trains a model on hard labels; returns its parameters. */
export async function trainLm(model: Gpt2, corpus: Corpus, s: RunSettings, log: (m: string) => void): Promise<ParamStore> {
  const trainer = await Trainer.create<DecoderOutput>({
    model: (inputs, { train }) => model.forward(inputs.input_ids!, { train }),
    loss: (out, inputs, ctx) => {
      const ce = g.crossEntropy(out.logits, inputs.labels!);
      return { total: g.mul(ce, ctx.weight('ce')), terms: { ce } };
    },
    predictions: (out, inputs) => ({ logits: out.logits, labels: inputs.labels! }),
    data: tokenWindows(corpus.train, { batch: s.batch, ctx: s.ctx, seed: s.seed }),
    evalData: evalWindows(corpus.validation, { batch: s.batch, ctx: s.ctx, maxBatches: 8 }),
    lossWeights: () => ({ ce: 1 }),
    dir: s.dir,
    steps: s.steps,
    schedule: { lr: s.lr, warmupSteps: Math.min(50, Math.floor(s.steps / 10)), totalSteps: s.steps },
    optimizer: defaultAdamW(),
    clipNorm: 1,
    evalEvery: Math.max(50, Math.floor(s.steps / 4)),
    seed: s.seed,
    progress: false,
    onEvent: (e) => { if (e.type === 'eval') log(`  eval @${e.result.step}: loss ${e.result.loss.toFixed(4)}, perplexity ${e.result.perplexity?.toFixed(2)}`); },
  });
  await trainer.run();
  return trainer.params;
}

/** Distills a student from an in-graph teacher with the given loss terms (hard labels: one 'logits' term with alpha 0). */
export async function distillLm(student: Gpt2, teacher: LocalTeacher, teacherConfig: Gpt2ConfigInput, terms: LossTerm[], corpus: Corpus, s: RunSettings, log: (m: string) => void): Promise<ParamStore> {
  const params = new ParamStore();
  for (const [k, v] of teacher.local!.params.values) params.set(`teacher.t.${k}`, v);
  const frozen = (name: string) => name.startsWith('teacher.');
  const trainer = await Trainer.create<DistillObjective>({
    model: (inputs, { train }) =>
      buildDistillObjective({
        student, teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) }], terms,
        batch: s.batch, seq: s.ctx, train, inputs: { ids: inputs.input_ids!, labels: inputs.labels! },
      }),
    loss: (obj) => ({ total: obj.total, terms: obj.terms }),
    data: tokenWindows(corpus.train, { batch: s.batch, ctx: s.ctx, seed: s.seed }),
    lossWeights: () => Object.fromEntries(terms.map((t) => [t.name, 1])),
    dir: s.dir,
    steps: s.steps,
    schedule: { lr: s.lr, warmupSteps: Math.min(50, Math.floor(s.steps / 10)), totalSteps: s.steps },
    optimizer: defaultAdamW(),
    clipNorm: 1,
    params,
    trainable: (n) => !frozen(n),
    seed: s.seed,
    progress: false,
    onEvent: (e) => { if (e.type === 'step' && e.record.step % 100 === 0) log(`  step ${e.record.step}: loss ${e.record.loss.toFixed(4)} ${JSON.stringify(e.record.terms)}`); },
  });
  await trainer.run();
  const out = new ParamStore();
  for (const [k, v] of trainer.params.values) if (!frozen(k) && !k.startsWith('loss.')) out.set(k, v);
  return out;
}

export interface LmMetrics {
  perplexity: number;
  /** Share of positions where student and teacher pick the same next token. */
  top1Agreement: number;
  /** Mean KL(teacher ‖ student) per token, nats. */
  klToTeacher: number;
}


/** Perplexity on held-out windows, and agreement with the teacher on the same positions. */
export async function evaluateLm(model: Gpt2, params: ParamStore, teacher: LocalTeacher | null, corpus: Corpus, o: { batch: number; ctx: number; maxBatches: number }): Promise<LmMetrics> {
  const ids = g.input('input_ids', [o.batch, o.ctx], 'int64');
  const program = await (await defaultExecutor()).compile({ logits: model.forward(ids).logits });
  const V = corpus.vocabSize;
  const a = new Float64Array(V), b = new Float64Array(V);
  let nll = 0, n = 0, agree = 0, kl = 0;
  for (const batch of evalWindows(corpus.validation, o).batches()) {
    const feeds: Record<string, HostTensor> = { input_ids: batch.input_ids! };
    for (const spec of program.inputs) if (spec.kind === 'param') feeds[spec.name] = params.get(spec.name);
    const s = (await program.run(feeds)).logits!.data as Float32Array;
    const t = teacher ? ((await teacher.score({ ids: batch.input_ids!, logits: true })).logits!.data as Float32Array) : null;
    const labels = batch.labels!.data as BigInt64Array;
    for (let p = 0; p < labels.length; p++) {
      logSoftmaxRow(s, p * V, V, a);
      nll -= a[Number(labels[p])]!;
      n++;
      if (!t) continue;
      logSoftmaxRow(t, p * V, V, b);
      let am = 0, bm = 0, k = 0;
      for (let i = 0; i < V; i++) {
        if (a[i]! > a[am]!) am = i;
        if (b[i]! > b[bm]!) bm = i;
        k += Math.exp(b[i]!) * (b[i]! - a[i]!);
      }
      if (am === bm) agree++;
      kl += k;
    }
  }
  return { perplexity: Math.exp(nll / n), top1Agreement: teacher ? agree / n : 1, klToTeacher: teacher ? kl / n : 0 };
}

