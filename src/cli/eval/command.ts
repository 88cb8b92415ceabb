// retort eval --teacher DIR --student DIR...: teacher and students side by side on the same held-out
// data (src/eval): quality, agreement with the teacher, size, latency, peak memory; a table, and the
// versioned JSON with --out or --json.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { evalSchema } from './schema.ts';

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'Evaluate a teacher and students side by side (quality, agreement, size, latency, memory)',
  usage: 'retort eval --teacher DIR --student DIR [--student DIR ...] [--data sotu|spam|FILE] [--out eval.json]',
  description: [
    'Runs every model on the same held-out data and reports, per model: parameter count, ONNX file',
    'sizes (fp32, int8: from DIR/onnx, if exported), perplexity and next-token accuracy (language',
    'models) or accuracy and macro-F1 (classifiers), top-1 agreement and KL(teacher‖model) with the',
    'teacher, latency p50/p95 at batch 1 and throughput at --batch (fewer rows when their logits',
    'would pass 256 MiB, as the scoring runs them), and the peak resident memory of a separate',
    'process running the ONNX file. Models must share one tokenizer; a student whose embedding table',
    'is padded to another width is compared with the teacher over the ids both have.',
    'Data: sotu = addresses after --after-year; spam = the held-out fifth of SpamAssassin (the split',
    'retort demo --task spam uses; emails as text for language models, labels for classifiers);',
    'FILE = a UTF-8 text file, all of it held out; for classifiers a .jsonl file of {"text", "label"}',
    'lines (the first --batch × --batches of them). Language models given a .jsonl of task records',
    '(prompt/completion or messages, with reference answers) answer the prompts (greedy unless',
    '--temperature) and are scored on them: exact match, token F1, chrF, token (phoneme) error rate,',
    "agreement with the teacher's answers, the teacher's log-probability of each answer, and latency",
    'per answer; perplexity and agreement are measured on the reference answer tokens.',
  ].join('\n'),
  examples: [
    'retort eval --teacher retort-demo/models/teacher --student retort-demo/models/student --student retort-demo/models/baseline',
    'retort eval --teacher big/ --student small/ --data notes.txt --seq 128 --out eval.json',
    'retort eval --teacher t/ --student s/ --no-memory --json > eval.json',
    'retort eval --teacher t/ --student runs/kd/final --data test.jsonl --max-new-tokens 32 --out eval.json',
    'retort eval --teacher runs/teacher/final --student runs/kd/final --student runs/scratch/final --name big --name distilled --name baseline',
  ],
  options: {
    teacher: { type: 'string', arg: 'DIR', help: "The teacher's model folder" },
    student: { type: 'string', arg: 'DIR', multiple: true, help: "A student's model folder" },
    name: {
      type: 'string',
      arg: 'NAME',
      multiple: true,
      help: "A model's name in the table: the teacher's first, then each student's, in order (default its run folder: kd for runs/kd/final)",
    },
    data: {
      type: 'string',
      arg: 'sotu|spam|FILE',
      default: 'sotu',
      help: 'Held-out data: sotu, spam, a text file, or a .jsonl of task records',
    },
    'after-year': { type: 'string', arg: 'YEAR', default: '1990', help: 'sotu: addresses after this year' },
    seq: {
      type: 'string',
      arg: 'N',
      help: 'Tokens per row (LM, default min(64, maxPositions)) or padded length (classifier, default config retort_seq_len or 128)',
    },
    batch: {
      type: 'string',
      arg: 'N',
      default: '8',
      help: 'Rows per batch (and the throughput batch, within 256 MiB of logits)',
    },
    batches: { type: 'string', arg: 'N', default: '16', help: 'At most this many batches' },
    runs: { type: 'string', arg: 'N', default: '20', help: 'Timed runs per latency figure (after 3 warmup runs)' },
    threads: { type: 'string', arg: 'N', default: '1', help: 'onnxruntime threads for latency and memory' },
    'no-speed': { type: 'boolean', help: 'Skip latency and throughput' },
    'no-memory': { type: 'boolean', help: 'Skip peak memory (a process per model)' },
    out: { type: 'string', arg: 'FILE', help: 'Write the evaluation JSON here' },
    prompts: {
      type: 'string',
      arg: 'N',
      default: '200',
      help: 'Task data (.jsonl of prompts with answers): at most this many prompts are answered',
    },
    'max-new-tokens': { type: 'string', arg: 'N', default: '64', help: 'Task data: the longest answer generated' },
    temperature: {
      type: 'string',
      arg: 'T',
      default: '0',
      help: 'Task data: 0 answers greedily; above 0 samples (seed 0)',
    },
    examples: { type: 'string', arg: 'N', default: '20', help: 'Task data: prompts shown side by side in the report' },
  },
  schema: evalSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
