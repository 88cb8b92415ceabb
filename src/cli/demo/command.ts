// retort demo: the whole path on real text with no network: teacher, distilled student, baseline,
// evaluation, ONNX export, HTML report, and the command for the browser demo.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { demoSchema } from './schema.ts';

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'Train a teacher, distill a student 8×+ smaller, evaluate, export and report (no network)',
  usage: 'retort demo [--task lm|spam|g2p] [--quick] [--out DIR] [--seed N] [--threads N]',
  description: [
    'Trains a GPT-2 teacher on State of the Union addresses (byte-level BPE learned from the training',
    'years), distills a student at least 8× smaller from it (logit KD + hidden states, the teacher in the',
    'same graph), trains the same student on hard labels alone for the same steps as a baseline,',
    'evaluates all three on later years (perplexity, agreement with the teacher, size, latency, memory),',
    'exports the student to ONNX (fp32 and int8) with its tokenizer, and writes an HTML report.',
    '--task spam does the same for spam classification on the SpamAssassin corpus.',
    '--task g2p distills a task from prompts and answers: word → ARPAbet pronunciation (CMUdict), a',
    "teacher trained on labelled words, a student taught by the teacher's answers to many more words",
    '(teacherAnswers + logit KD), a baseline on the references alone; scored by word exact match and',
    'phoneme error rate on held-out words.',
    'Full size takes several minutes on 2 cores; --quick runs the same path in under 2 minutes.',
    'Everything goes to --out (cleared first if an earlier demo wrote it).',
  ].join('\n'),
  examples: [
    'retort demo',
    'retort demo --quick --out /tmp/demo',
    'retort demo --task spam',
    'retort demo --task g2p',
    'retort web --dir retort-demo/models/student',
  ],
  options: {
    task: {
      type: 'string',
      arg: 'lm|spam|g2p',
      default: 'lm',
      help: 'lm: text generation (SOTU); spam: classification (SpamAssassin); g2p: prompts and answers (CMUdict pronunciations)',
    },
    quick: { type: 'boolean', help: 'Smaller models and fewer steps (CI)' },
    out: { type: 'string', arg: 'DIR', default: 'retort-demo', help: 'Output folder' },
    seed: { type: 'string', arg: 'N', default: '1', help: 'Seeds initialization and data order' },
    threads: { type: 'string', arg: 'N', help: 'onnxruntime threads per op (default: cores, at most 8)' },
  },
  schema: demoSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
