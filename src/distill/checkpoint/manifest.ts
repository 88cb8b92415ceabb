// The manifest of one training checkpoint: what step it is, where the data stream stood, which
// configuration produced it, and the size and sha256 of every file beside it. It is written last,
// so a folder with a manifest whose checksums match is a complete checkpoint.
import { z } from 'zod';

export const MANIFEST_FORMAT = 'retort.train-checkpoint';
export const MANIFEST_VERSION = 1;

/** Any JSON value (data cursors and trainer state are the caller's, stored as they are). */
export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
const json: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(json), z.record(z.string(), json)]),
);

const fileEntry = z.object({
  /** Hex sha256 of the file's bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});

const metric = z.object({ name: z.string(), value: z.number(), step: z.number().int().nonnegative() });

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(MANIFEST_VERSION),
  /** Optimizer steps completed; resuming runs step `step` next. */
  step: z.number().int().nonnegative(),
  /** Wall time of the save, ISO 8601. */
  time: z.string(),
  /** sha256 of the run's configuration (configHash); a resume under another configuration is refused. */
  configHash: z.string(),
  /** Where the training data stream stands: the data source's own serializable cursor. */
  cursor: json,
  /** The trainer's own state (early stopping counters, ...). */
  trainer: json,
  /** The evaluation metric at this step, when there was an evaluation. */
  metric: metric.nullable(),
  /** The best evaluation so far, whichever checkpoint holds it. */
  best: metric.nullable(),
  /** Every file of the checkpoint by name (relative to its folder). */
  files: z.record(z.string(), fileEntry),
});
export type Manifest = z.output<typeof manifestSchema>;
export type EvalMark = z.output<typeof metric>;
