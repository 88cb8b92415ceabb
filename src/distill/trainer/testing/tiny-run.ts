// A tiny but real run for tests: a 2-layer, 32-wide GPT-2 with dropout on character-level State of
// the Union text (addresses up to 1800 to train, 1801-1805 held out). Runs as a script too
// (`node --import tsx tiny-run.ts DIR STEPS [stepDelayMs]`): it resumes from DIR if it can and prints
// `checkpoint {step}` lines, so a test can SIGKILL it after one and resume.
import { pathToFileURL } from 'node:url';
import { loadSotu } from '../../../data/sotu.ts';
import { crossEntropy, mul } from '../../../graph/index.ts';
import { Gpt2 } from '../../../models/gpt2/model.ts';
import { CharTokenizer } from '../../../models/tokenizers/char-tokenizer.ts';
import type { DecoderOutput } from '../../../models/types.ts';
import { defaultAdamW } from '../../../optim/index.ts';
import { evalWindows, tokenWindows } from '../data.ts';
import { Trainer, type TrainerOptions } from '../trainer.ts';

let corpus: { vocabSize: number; train: Int32Array; validation: Int32Array } | undefined;

export function tinyCorpus() {
  if (corpus) return corpus;
  const sotu = loadSotu();
  const train = sotu
    .filter((s) => s.year <= 1800)
    .map((s) => s.text)
    .join('\n\n');
  const validation = sotu
    .filter((s) => s.year > 1800 && s.year <= 1805)
    .map((s) => s.text)
    .join('\n\n');
  const tok = CharTokenizer.fromCorpus([train, validation]);
  corpus = {
    vocabSize: tok.vocabSize,
    train: Int32Array.from(tok.encode(train)),
    validation: Int32Array.from(tok.encode(validation)),
  };
  return corpus;
}

export const CTX = 32;
export const BATCH = 4;

export function tinyOptions(
  dir: string,
  steps: number,
  over: Partial<TrainerOptions<DecoderOutput>> = {},
): TrainerOptions<DecoderOutput> {
  const c = tinyCorpus();
  const gpt = new Gpt2({ vocabSize: c.vocabSize, maxPositions: CTX, dModel: 32, nLayers: 2, nHeads: 4, dropout: 0.1 });
  return {
    model: (inputs, { train }) => gpt.forward(inputs.input_ids!, { train }),
    loss: (out, inputs, ctx) => {
      const ce = crossEntropy(out.logits, inputs.labels!);
      return { total: mul(ce, ctx.weight('ce')), terms: { ce } };
    },
    predictions: (out, inputs) => ({ logits: out.logits, labels: inputs.labels! }),
    data: tokenWindows(c.train, { batch: BATCH, ctx: CTX, seed: 7 }),
    evalData: evalWindows(c.validation, { batch: BATCH, ctx: CTX, maxBatches: 4 }),
    lossWeights: () => ({ ce: 1 }),
    dir,
    steps,
    schedule: { lr: 3e-3, warmupSteps: 4, totalSteps: steps },
    optimizer: defaultAdamW(),
    clipNorm: 1,
    evalEvery: 5,
    checkpoint: { every: 5, keep: 2 },
    progress: false,
    seed: 1,
    threads: 2,
    ...over,
  };
}

async function main(): Promise<void> {
  const [dir, stepsArg, delayArg] = process.argv.slice(2);
  const delay = Number(delayArg ?? 0);
  const trainer = await Trainer.create(
    tinyOptions(dir!, Number(stepsArg), {
      onEvent: async (e) => {
        if (e.type === 'checkpoint') console.log(`checkpoint ${e.step}`);
        if (e.type === 'step' && delay > 0) await new Promise((r) => setTimeout(r, delay));
      },
    }),
  );
  const from = await trainer.resume();
  console.log(`resumed ${from}`);
  const summary = await trainer.run();
  console.log(`done ${summary.step}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
