// The training run configuration file (JSON or YAML), one zod schema. Every field carries its
// description and an example in its metadata: they are the field comments, and they are what an
// error message quotes when a value is wrong. Objects are strict, so a misspelled field is an error
// (with a "did you mean") instead of a silently ignored setting.
import { z } from 'zod';
import { gpt2ConfigSchema } from '../../models/gpt2/config.ts';
import { llamaConfigSchema, llamaConfigToHf, type LlamaConfig } from '../../models/llama/config.ts';
import { levenshtein } from './errors.ts';

/** Attaches the field comment and an example value (used in error messages). */
const doc = <T extends z.ZodType>(schema: T, description: string, example?: unknown): T =>
  schema.meta({ description, ...(example !== undefined && { example }) });

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();

// ------------------------------------------------------------------ model
/** Model families the trainer can build, each with the schema of its config (Retort's field names). */
export const modelFamilies = {
  gpt2: gpt2ConfigSchema,
  /** Llama, Qwen2 and Mistral: one architecture, the config's `dialect` picks which. */
  llama: llamaConfigSchema,
} as const;
export type ModelFamily = keyof typeof modelFamilies;

/** The field names of a family's config schema (its object, under refinements and transforms). */
const fieldsOf = (s: z.ZodType): string[] =>
  s instanceof z.ZodPipe ? fieldsOf(s.in as z.ZodType) : s instanceof z.ZodObject ? Object.keys(s.shape) : [];

/** The known field nearest to a misspelled one, as errors.ts judges "did you mean". */
function nearest(word: string, known: readonly string[]): string | undefined {
  const [best] = known
    .map((k) => [k, levenshtein(word.toLowerCase(), k.toLowerCase())] as const)
    .sort((a, b) => a[1] - b[1]);
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/**
 * `model: {family: llama, dialect: qwen2, config: {...}}` reads as users write it: the dialect is
 * the llama family's config field, so it moves there (a config that names another one keeps both,
 * and the family's schema reports the clash as an unknown field).
 */
function dialectIntoConfig(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || !('dialect' in v) || (v as { family?: unknown }).family !== 'llama')
    return v;
  const { dialect, ...rest } = v as { dialect: unknown; config?: unknown };
  const config = rest.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return v;
  const has = (config as { dialect?: unknown }).dialect;
  if (has !== undefined && has !== dialect) return v;
  return { ...rest, config: { ...config, dialect } };
}

export const modelSchema = z
  .object({
    family: doc(
      z.enum(Object.keys(modelFamilies) as [ModelFamily, ...ModelFamily[]]),
      "Architecture of the model being trained: gpt2, or llama (Llama, Qwen2 and Mistral; config.dialect picks which). With hfDir it must be the family of the folder's config.json",
      'gpt2',
    ),
    config: doc(
      z.record(z.string(), z.unknown()).optional(),
      "The family's config in Retort's names (e.g. dModel, nLayers, nHeads, maxPositions; llama also mlpHidden, nKvHeads and dialect: llama, qwen2 or mistral); vocabSize defaults to the tokenizer's",
      { dModel: 64, nLayers: 2, nHeads: 4, maxPositions: 128 },
    ),
    hfDir: doc(
      z.string().min(1).optional(),
      'A Hugging Face model folder (config.json, model.safetensors) to start from instead of a fresh config',
      'models/gpt2-small',
    ),
  })
  .strict()
  .superRefine((m, ctx) => {
    if ((m.config === undefined) === (m.hfDir === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: m.config ? ['hfDir'] : ['config'],
        message: m.config
          ? 'give either config or hfDir, not both; fix: remove one of them'
          : 'expected config (a fresh model) or hfDir (a Hugging Face folder); fix: add one of them',
      });
      return;
    }
    if (m.config) {
      // The family schemas let unknown fields through; here a misspelled one is an error, not an ignored setting.
      const known = fieldsOf(modelFamilies[m.family]);
      const guesses = new Set<string>();
      for (const k of Object.keys(m.config).filter((k) => !known.includes(k))) {
        const guess = nearest(k, known);
        if (guess) guesses.add(guess);
        const fix = guess ? `did you mean "${guess}"?` : `remove it (${m.family}'s config has ${known.join(', ')})`;
        ctx.addIssue({
          code: 'custom',
          path: ['config', k],
          message: `unknown field of ${m.family}'s config; fix: ${fix}`,
        });
      }
      // vocabSize may come from the tokenizer; check the rest against the family's own schema now.
      const r = modelFamilies[m.family].safeParse({ vocabSize: 1, ...m.config }, { reportInput: true });
      if (!r.success) {
        for (const issue of r.error.issues) {
          // "nLayers is missing" says nothing more than "nLayer: did you mean nLayers?".
          if (issue.code === 'invalid_type' && issue.path.length === 1 && guesses.has(String(issue.path[0]))) continue;
          ctx.addIssue({ ...issue, path: ['config', ...issue.path] } as never);
        }
      } else if (m.family === 'llama') {
        // The trained model is saved as a Hugging Face folder: find out now, not after training, if its dialect cannot say it.
        try {
          llamaConfigToHf(r.data as LlamaConfig);
        } catch (err) {
          const [what, fix] = (err as Error).message.replace(/^llamaConfigToHf: /, '').split('; ');
          ctx.addIssue({
            code: 'custom',
            path: ['config'],
            message: `${what}, so the trained model could not be saved as a Hugging Face folder; fix: ${fix ?? 'change the config'}`,
          });
        }
      }
    }
  });

// ------------------------------------------------------------------ data
export const tokenizerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: doc(z.literal('char'), 'One token per character of the training text') }).strict(),
  z
    .object({
      kind: doc(z.literal('bpe'), 'A byte-level BPE vocabulary learned from the training text'),
      vocabSize: doc(z.number().int().min(257), 'Vocabulary size: the 256 bytes plus the merges learned', 512),
    })
    .strict(),
  z
    .object({
      kind: doc(z.literal('hf'), "A Hugging Face tokenizer (the teacher's, usually)"),
      path: doc(z.string().min(1), 'Folder with tokenizer.json', 'models/gpt2'),
    })
    .strict(),
]);

export const dataSchema = z
  .object({
    dataset: doc(
      z.string().min(1),
      "'sotu' (State of the Union addresses), 'spam' (SpamAssassin email text), the path of a UTF-8 text file, or a .jsonl file of task records (prompt/completion, messages, or text lines; see data.format)",
      'sotu',
    ),
    format: doc(
      z.enum(['auto', 'text', 'promptCompletion', 'messages']).default('auto'),
      "How a .jsonl dataset's lines read: 'promptCompletion' ({prompt, completion}; no completion: the teacher answers), 'messages' (OpenAI {messages} or ShareGPT {conversations}), 'text' ({text} documents; a plain text file is one stream), or 'auto': decided from the first line (the log says what it decided)",
      'auto',
    ),
    train_on: doc(
      z.enum(['lastAnswer', 'allAnswers']).default('lastAnswer'),
      'Which assistant turns of a conversation are trained on (the loss reads only their tokens and the end-of-turn token)',
      'lastAnswer',
    ),
    packing: doc(
      z.boolean().default(false),
      'Task data: several examples per row with block-diagonal attention and positions restarting per example, instead of one right-padded example per row',
      false,
    ),
    skipBad: doc(
      z.boolean().default(false),
      'Skip bad .jsonl lines (counted and reported) instead of stopping at the first one',
      false,
    ),
    tokenizer: doc(tokenizerSchema.default({ kind: 'char' }), 'How text becomes token ids', { kind: 'char' }),
    seqLen: doc(
      posInt().default(128),
      'Tokens per training row (context length); at most the model’s maxPositions',
      128,
    ),
    batchSize: doc(posInt().default(8), 'Rows per micro-batch', 8),
    validation: doc(
      z
        .object({
          fraction: doc(
            z.number().gt(0).lt(1).default(0.1),
            'Share of the text held out for evaluation (its end, so no window overlaps training)',
            0.1,
          ),
          afterYear: doc(
            z.number().int().optional(),
            'sotu only: hold out the addresses after this year instead (a split in time)',
            1990,
          ),
          file: doc(
            z.string().min(1).optional(),
            'Task data: a .jsonl file of held-out records (same format) instead of the last fraction of the dataset',
            'data/test.jsonl',
          ),
        })
        .strict()
        .default({ fraction: 0.1 }),
      'The held-out part of the dataset',
    ),
  })
  .strict();

// ------------------------------------------------------------------ optimizer, schedule
const lr = doc(z.number().positive(), 'Peak learning rate, reached at the end of warmup', 3e-4);
const weightDecay = (d: number) =>
  doc(z.number().nonnegative().default(d), 'Decoupled weight decay on matrices and embeddings', d);

export const optimizerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: doc(z.literal('adamw'), 'AdamW (Loshchilov & Hutter 2019)'),
      lr,
      betas: doc(
        z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.95]),
        'Decay rates of the first and second moment estimates',
        [0.9, 0.95],
      ),
      eps: doc(z.number().positive().default(1e-8), 'Added to the denominator for stability', 1e-8),
      weightDecay: weightDecay(0.1),
    })
    .strict(),
  z
    .object({
      kind: doc(z.literal('sgd'), 'Stochastic gradient descent with momentum'),
      lr,
      momentum: doc(z.number().min(0).lt(1).default(0.9), 'Momentum coefficient; 0 for plain SGD', 0.9),
      nesterov: doc(z.boolean().default(false), 'Nesterov momentum (Sutskever et al. 2013)', false),
      weightDecay: weightDecay(0),
    })
    .strict(),
]);

export const scheduleSchema = z
  .object({
    warmupSteps: doc(nonNegInt().default(0), 'Steps of linear warmup from 0 to lr', 100),
    decay: doc(
      z.enum(['cosine', 'linear', 'constant']).default('cosine'),
      'Shape of the decay after warmup, until the last step',
      'cosine',
    ),
    minLrRatio: doc(z.number().min(0).max(1).default(0.1), 'Final learning rate as a fraction of lr', 0.1),
  })
  .strict();

// ------------------------------------------------------------------ eval, checkpoints
export const evalSchema = z
  .object({
    every: doc(nonNegInt().default(100), 'Evaluate every this many steps (and at the end); 0: only at the end', 100),
    batches: doc(posInt().default(20), 'Held-out batches per evaluation (at most)', 20),
    monitor: doc(
      z
        .string()
        .regex(/^(loss|accuracy|perplexity|term\.[\w.-]+)$/, {
          error: 'loss, accuracy, perplexity or term.{name} (a loss term)',
        })
        .default('loss'),
      'The evaluation metric that picks the best checkpoint',
      'loss',
    ),
    mode: doc(
      z.enum(['min', 'max']).optional(),
      'Whether lower or higher is better; default max for accuracy, min otherwise',
      'min',
    ),
    patience: doc(
      posInt().optional(),
      'Stop after this many evaluations without improvement; absent: never stop early',
      5,
    ),
    minDelta: doc(z.number().nonnegative().default(0), 'Smallest change that counts as an improvement', 0.001),
  })
  .strict();

export const checkpointSchema = z
  .object({
    dir: doc(
      z.string().min(1),
      'Run folder: checkpoints ckpt-{step}/, the latest and best pointers, metrics.jsonl',
      'runs/tiny',
    ),
    every: doc(
      nonNegInt().default(500),
      'Save every this many steps (and at the end and at each new best); 0: only those',
      500,
    ),
    keep: doc(nonNegInt().default(3), 'Keep the last this many checkpoints plus the best; 0 keeps all', 3),
  })
  .strict();

// ------------------------------------------------------------------ the run
export const runConfigSchema = z
  .object({
    task: doc(
      z.enum(['lm', 'classify']).default('lm'),
      "'lm': next-token prediction on text; 'classify': sequence classification of labelled texts (data.dataset 'spam', or a .jsonl file of {\"text\", \"label\"} lines), the model's body under a pooled head",
      'lm',
    ),
    classifier: doc(
      z
        .object({
          pooling: doc(
            z.enum(['mean', 'last']).default('mean'),
            "How the head reads the text: the mean of the body's final states over the tokens, or the last token's",
            'mean',
          ),
        })
        .strict()
        .default({ pooling: 'mean' }),
      'task classify: the classification head',
      { pooling: 'mean' },
    ),
    model: doc(z.preprocess(dialectIntoConfig, modelSchema), 'The model being trained (the student, when distilling)'),
    data: doc(dataSchema, 'Training and held-out text'),
    optimizer: doc(optimizerSchema, 'Optimizer and its learning rate', { kind: 'adamw', lr: 3e-4 }),
    schedule: doc(
      scheduleSchema.default({ warmupSteps: 0, decay: 'cosine', minLrRatio: 0.1 }),
      'Learning-rate schedule',
    ),
    steps: doc(posInt(), 'Optimizer steps of the whole run', 1000),
    accumulate: doc(posInt().default(1), 'Micro-batches per optimizer step (gradient accumulation)', 1),
    clipNorm: doc(
      z.number().nonnegative().default(1),
      'Clip the global gradient norm to this; 0 turns clipping off',
      1,
    ),
    balance: doc(
      z.enum(['fixed', 'auto']).default('fixed'),
      "How loss terms' weights apply: 'fixed' as configured; 'auto' divides each by its term's running mean |value| (EMA, decay 0.99), so terms on very different scales each contribute about their configured weight. metrics.jsonl holds the weights used at every step",
      'auto',
    ),
    eval: doc(
      evalSchema.default({ every: 100, batches: 20, monitor: 'loss', minDelta: 0 }),
      'Periodic evaluation on the held-out data, best checkpoint and early stopping',
    ),
    checkpoint: doc(checkpointSchema, 'Where and how often to save'),
    seed: doc(
      z.number().int().nonnegative().default(0),
      'Seeds initialization, data order and dropout: the same seed gives the same run',
      0,
    ),
    threads: doc(posInt().optional(), 'onnxruntime threads per op; default min(cores, 8)', 4),
    lossChunk: doc(
      z.union([z.enum(['auto', 'off']), posInt()]).default('auto'),
      "Cross-entropy and logit/top-k KD over the vocabulary computed a chunk of positions at a time, with the student's (and an in-graph teacher's) logits made per chunk, so no (batch × positions, vocabulary) matrix exists whole; the results are the same. 'auto' chunks once that matrix would pass 256 MB (a 150k vocabulary at batch 8 × 512), a number sets the positions per chunk, 'off' never chunks",
      'auto',
    ),
    distill: doc(
      z.record(z.string(), z.unknown()).optional(),
      "Distillation: teacher and loss terms. Checked by the distillation engine's own schema (loadRunConfig's `distill` option); absent: train on the data alone",
    ),
  })
  .strict();

export type RunConfig = z.output<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;
