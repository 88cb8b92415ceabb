// What `retort label` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { intOption } from '../command.ts';

export const labelSchema = z.object({
  teacher: z.string().min(1).optional(),
  shard: z.string().optional(),
  merge: z.boolean().default(false),
  'top-k': intOption(1).optional(),
  batch: intOption(1).optional(),
});
export type LabelValues = z.output<typeof labelSchema>;
