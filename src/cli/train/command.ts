// retort train CONFIG: trains a model on the run config's data (next-token cross-entropy), with the
// Trainer's checkpoints, evaluation, early stopping and progress; saves the result as a Hugging Face
// folder (config.json, model.safetensors, tokenizer.json) in {checkpoint.dir}/final.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { trainSchema } from './schema.ts';

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'Train a model from a run config (JSON or YAML)',
  usage: 'retort train CONFIG [--resume] [--steps N] [--seed N] [--dir DIR]',
  description: [
    "Trains the config's model on its data with next-token cross-entropy: checkpoints, periodic",
    'evaluation, early stopping and a progress bar; metrics.jsonl in the run folder. The trained model',
    'is saved as a Hugging Face folder in {checkpoint.dir}/final (config.json, model.safetensors,',
    "tokenizer.json), ready for retort eval, export and serve. Options override the config's fields.",
    'With task: classify it trains a sequence classifier on labelled texts (data.dataset spam, or a .jsonl',
    'file of {"text", "label"} lines) with cross-entropy on the labels.',
  ].join('\n'),
  examples: [
    'retort train runs/tiny.yaml',
    'retort train runs/tiny.yaml --resume --steps 2000',
    'retort train runs/tiny.yaml --dir /tmp/try --json',
  ],
  positionals: { names: 'CONFIG (a .json or .yaml run config)', min: 1, max: 1 },
  options: {
    resume: { type: 'boolean', help: "Continue from the run folder's latest checkpoint" },
    steps: { type: 'string', arg: 'N', help: 'Override steps' },
    seed: { type: 'string', arg: 'N', help: 'Override seed' },
    dir: { type: 'string', arg: 'DIR', help: 'Override checkpoint.dir' },
  },
  schema: trainSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
