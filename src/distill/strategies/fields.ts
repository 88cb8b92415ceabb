// Config pieces the strategies share. Each field carries its description and an example in zod's
// metadata (as the run config does), so a wrong value is reported with what the field is for.
import { z } from 'zod';
import { distillLossSchema, weightScheduleSchema } from '../losses/index.ts';

/** Attaches the field comment and an example value (quoted by error messages). */
export const doc = <T extends z.ZodType>(schema: T, description: string, example?: unknown): T =>
  schema.meta({ description, ...(example !== undefined && { example }) });

export const posInt = () => z.number().int().positive();
export const nonNegInt = () => z.number().int().nonnegative();

export const teacherName = () => doc(z.string().min(1), 'A teacher of the run, by name', 'big');

export const stepsField = () =>
  doc(posInt().optional(), "Optimizer steps of this training step; default the run's steps", 500);

/** One loss term of a distillation objective. */
export const termSchema = z
  .object({
    name: doc(
      z.string().regex(/^[A-Za-z][\w-]*$/, { error: 'a name of letters, digits, _ and -, starting with a letter' }),
      'Names the term in metrics (and its weight)',
      'kd',
    ),
    loss: doc(
      distillLossSchema,
      "The loss: kind 'logits', 'topk', 'hidden', 'attention' or 'valueRelation' with its settings",
      { kind: 'logits', alpha: 0.5, temperature: 2 },
    ),
    teacher: doc(
      z.string().min(1).optional(),
      'The teacher this term reads; default every teacher (mixed or one term each, see multiTeacher)',
      'big',
    ),
    topK: doc(
      posInt().optional(),
      "For 'topk' terms: how many of the teacher's most likely tokens are kept (default 20)",
      20,
    ),
    weight: doc(
      weightScheduleSchema.default(1),
      'Weight of the term: a number, or a schedule {kind: linear, from, to, startStep, endStep}',
      1,
    ),
  })
  .strict();
export type TermConfig = z.output<typeof termSchema>;
export type TermConfigInput = z.input<typeof termSchema>;

export const multiTeacherSchema = z
  .object({
    mode: doc(
      z.enum(['weighted', 'confidence', 'per-teacher']),
      "How a term without a named teacher uses several: mix their distributions ('weighted', 'confidence') or one term per teacher",
      'weighted',
    ),
    weights: doc(
      z.array(z.number().positive()).optional(),
      "'weighted': one positive weight per teacher, in the order of the step's teachers (default the run's)",
      [2, 1],
    ),
  })
  .strict();

/** A sampling setup for generation (on-policy batches, augmentation). */
export const samplingFields = {
  temperature: doc(
    z.number().nonnegative().default(1),
    '0 picks the most likely token; above 0 samples from softmax(logits / temperature)',
    1,
  ),
  topP: doc(
    z.number().gt(0).max(1).default(1),
    'Nucleus sampling: the smallest set of tokens whose probabilities reach p (1: no limit)',
    0.95,
  ),
  topK: doc(nonNegInt().default(0), 'Sample among the k most likely tokens (0: no limit)', 50),
};
