// The evaluation output, one versioned zod schema. Scripts and the HTML report read this JSON; a
// change that breaks readers bumps `version` (readers check it), additions of optional fields do not.
import { z } from 'zod';

export const EVAL_SCHEMA = 'retort.eval';
export const EVAL_VERSION = 1;

const nonNeg = z.number().nonnegative();
/** A figure that may be NaN in memory is written as null in JSON. */
const figure = z.number().nullable();

export const onnxFileSchema = z.object({
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  /** The file run by plain onnxruntime at batch 1 over `seq` positions, in ms (with speed figures only). */
  latencyMs: z.object({ p50: nonNeg, p95: nonNeg, runs: z.number().int().positive() }).optional(),
});

/** A model's answers to held-out prompts, scored against the reference answers and the teacher's answers. */
export const taskEvalSchema = z.object({
  /** Prompts answered. */
  items: z.number().int().nonnegative(),
  /** Share of answers equal to the reference after normalizeAnswer (NFKC, lowercase, punctuation → space, whitespace collapsed). */
  exactMatch: figure,
  /** Mean SQuAD-style token F1 over normalized whitespace tokens, 0..1. */
  tokenF1: figure,
  /** Corpus chrF (sacrebleu's default chrF2), 0..100. */
  chrF: figure,
  /** Corpus token error rate: summed token Levenshtein distances / summed reference tokens (phoneme error rate for g2p). */
  tokenErrorRate: figure,
  /** Share of answers equal to the teacher's (normalized); null when there is no teacher. */
  teacherExact: figure,
  /** Corpus chrF with the teacher's answers as references; null when there is no teacher. */
  teacherChrF: figure,
  /** The teacher's mean log-probability per token of this model's answers, nats; null when there is no teacher (or it cannot score them). */
  teacherLogprob: figure,
  /** Mean generation time per answer, in ms. */
  latencyMsPerAnswer: figure,
});

export const modelEvalSchema = z.object({
  /** As given to evaluate(): 'teacher', 'student', 'baseline', ... */
  name: z.string().min(1),
  role: z.enum(['teacher', 'student']),
  /** Scalar parameters of the model (exact: the sum of its parameter sizes). */
  params: z.number().int().nonnegative(),
  /** Exported ONNX files, where the model was exported; null otherwise. */
  files: z.object({ fp32: onnxFileSchema.nullable(), int8: onnxFileSchema.nullable() }),
  /** Every file of the model's export folder: size, perplexity, batch-1 latency and peak memory, measured on the file itself (ONNX in onnxruntime, GGUF in llama.cpp). */
  exports: z
    .array(
      z.object({
        file: z.string(),
        format: z.string(),
        bytes: z.number().int().nonnegative(),
        perplexity: z.number().nullable(),
        perplexityChange: z.number().nullable(),
        latencyMs: z.number().nullable(),
        peakBytes: z.number().nullable().default(null),
        note: z.string().optional(),
      }),
    )
    .optional(),
  quality: z.object({
    /** Labelled positions (LM tokens) or examples (classifier) scored. */
    items: z.number().int().nonnegative(),
    /** Top-1 accuracy: next-token accuracy for LMs, label accuracy for classifiers. */
    accuracy: figure,
    /** LM: exp(mean token NLL), positions labelled −100 ignored. */
    perplexity: figure.optional(),
    /** Mean NLL per labelled position in nats (LM: ln perplexity; classifier: cross-entropy). */
    nll: figure,
    /** Classifier: unweighted mean of per-class F1. */
    macroF1: figure.optional(),
  }),
  /**
   * Agreement with the teacher on the same positions, over the narrower vocabulary when the two differ
   * only by padding; null for classifiers with other labels. The teacher's own row compares it with itself.
   */
  agreement: z
    .object({
      items: z.number().int().nonnegative(),
      /** Share of positions where the argmax of both models is the same. */
      top1: figure,
      /** Mean KL(p_teacher ‖ p_student) per position, nats. */
      kl: figure,
    })
    .nullable(),
  speed: z
    .object({
      /** Forward pass at batch 1 over `seq` positions, in ms. */
      latencyMs: z.object({ p50: nonNeg, p95: nonNeg, mean: nonNeg, runs: z.number().int().positive() }),
      throughput: z.object({
        batch: z.number().int().positive(),
        /** Tokens per second (LM) or examples per second (classifier) at that batch size. */
        perSecond: nonNeg,
        unit: z.enum(['tokens/s', 'examples/s']),
      }),
    })
    .nullable(),
  /** Peak resident memory of a separate process that loads the ONNX file and runs it at batch 1. */
  memory: z
    .object({
      /** VmHWM of that process. */
      peakBytes: z.number().int().nonnegative(),
      /** VmHWM of the same process after loading onnxruntime, before the model. */
      baselineBytes: z.number().int().nonnegative(),
      /** peakBytes − baselineBytes: what the model added. */
      modelBytes: z.number().int(),
      /** The file it loaded. */
      file: z.string(),
    })
    .nullable(),
  /** Scores of this model's generated answers to held-out prompts (src/data/task/metrics.ts); null or absent where none were generated. */
  task: taskEvalSchema.nullable().optional(),
});

/** Sampling settings of the generated answers (src/generate's names and meanings). */
export const generationSettingsSchema = z.object({
  maxNewTokens: z.number().int().positive(),
  /** 0 is greedy. */
  temperature: nonNeg,
  /** In (0, 1]; 1 disables it. */
  topP: z.number().gt(0).lte(1),
  /** 0 disables it. */
  topK: z.number().int().nonnegative(),
  seed: z.number().int(),
});

/** One held-out prompt, its reference answer (null when it has none) and each model's answer, keyed by model name. */
export const taskExampleSchema = z.object({
  prompt: z.string(),
  reference: z.string().nullable(),
  answers: z.record(z.string(), z.string()),
});

export const evalReportSchema = z.object({
  schema: z.literal(EVAL_SCHEMA),
  version: z.literal(EVAL_VERSION),
  createdAt: z.string(),
  task: z.enum(['lm', 'classifier']),
  data: z.object({
    description: z.string(),
    batches: z.number().int().nonnegative(),
    /** Positions per row (LM) or padded length (classifier). */
    seq: z.number().int().positive(),
    /** Class names (classifier). */
    labels: z.array(z.string()).optional(),
  }),
  settings: z.object({
    threads: z.number().int().positive(),
    warmup: z.number().int().nonnegative(),
    runs: z.number().int().nonnegative(),
    throughputBatch: z.number().int().positive(),
  }),
  /** Name of the model every agreement figure compares with. */
  teacher: z.string(),
  models: z.array(modelEvalSchema).min(1),
  /** The settings the models' answers were generated with (with task scores only). */
  generation: generationSettingsSchema.optional(),
  /** A sample of held-out prompts with each model's answer, for the side-by-side table. */
  examples: z.array(taskExampleSchema).optional(),
});

export type ModelEval = z.infer<typeof modelEvalSchema>;
export type EvalReport = z.infer<typeof evalReportSchema>;
export type TaskEval = z.infer<typeof taskEvalSchema>;
export type GenerationSettings = z.infer<typeof generationSettingsSchema>;
export type TaskExample = z.infer<typeof taskExampleSchema>;

/** Parses an evaluation JSON (a file's contents or a value), refusing other schemas and versions by name. */
export function parseEvalReport(value: unknown, where = 'eval JSON'): EvalReport {
  const v = value as { schema?: unknown; version?: unknown } | null;
  if (v && typeof v === 'object' && v.schema === EVAL_SCHEMA && v.version !== EVAL_VERSION) {
    throw new Error(
      `${where}: written with eval schema version ${String(v.version)}, this Retort reads version ${EVAL_VERSION}; evaluate again with this version`,
    );
  }
  const r = evalReportSchema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new Error(`${where}: not a Retort evaluation (${first.path.join('.') || '(top level)'}: ${first.message})`);
  }
  return r.data;
}

/** JSON with NaN and ±Infinity written as null (JSON has no such numbers). */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
