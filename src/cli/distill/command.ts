// retort distill CONFIG: a run config whose `distill` section names the teachers and the strategy
// (src/distill/strategies: kd, offline, online, selfDistill-style born-again, onPolicy, augment,
// finetuneTeacher, initFromTeacher, or a pipeline of them). The student is the config's model, the
// data its data; each strategy step trains in its own folder under checkpoint.dir, and the final
// student is saved as a Hugging Face folder in {checkpoint.dir}/final.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { distillSchema } from './schema.ts';

export const distillCommand = defineCommand({
  name: 'distill',
  summary: 'Distill a student from teacher(s) with a strategy, from a run config',
  usage: 'retort distill CONFIG [--steps N] [--seed N] [--dir DIR]',
  description: [
    "The run config's model is the student and its data the training text; its distill section lists",
    'the teachers (Hugging Face folders traced in-graph, ONNX files, or OpenAI-compatible APIs) and the',
    'strategy: {kind: kd, terms: [...]} (logit KD, top-k, hidden states, attention, ...), offline, online,',
    'mutual, bornAgain, deepToShallow, onPolicy, augment, finetuneTeacher, initFromTeacher, or',
    '{kind: pipeline, steps: [...]}. Each step trains in checkpoint.dir/{n}-{kind} (rerunning resumes it);',
    "the student ends in checkpoint.dir/final. Use the teacher's tokenizer: data.tokenizer {kind: hf, path}.",
    'With task: classify the student and teachers are sequence classifiers (Hugging Face folders) and the',
    'strategy kd or hardLabels, optionally after augment; the data is labelled texts (spam, or .jsonl).',
    '',
    'distill:',
    '  teachers: [{name: big, source: {kind: retort, hfDir: runs/teacher/final}}]',
    '  strategy: {kind: kd, terms: [{name: kd, loss: {kind: logits, alpha: 0.9, temperature: 2}}]}',
  ].join('\n'),
  examples: [
    'retort distill runs/student.yaml',
    'retort distill runs/student.yaml --steps 2000 --dir runs/longer',
    'retort eval --teacher runs/teacher/final --student runs/student/final',
  ],
  positionals: { names: 'CONFIG (a .json or .yaml run config with a distill section)', min: 1, max: 1 },
  options: {
    steps: { type: 'string', arg: 'N', help: 'Override steps' },
    seed: { type: 'string', arg: 'N', help: 'Override seed' },
    dir: { type: 'string', arg: 'DIR', help: 'Override checkpoint.dir' },
  },
  schema: distillSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
