// What `retort distill` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { intOption } from '../command.ts';

export const distillSchema = z.object({
  steps: intOption(1).optional(),
  seed: intOption(0).optional(),
  dir: z.string().min(1).optional(),
});
export type DistillValues = z.output<typeof distillSchema>;
