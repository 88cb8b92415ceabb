// What `retort demo` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { intOption } from '../command.ts';

export const demoSchema = z.object({
  task: z.enum(['lm', 'spam', 'g2p']).default('lm'),
  quick: z.boolean().default(false),
  out: z.string().min(1).default('retort-demo'),
  seed: intOption(0).default(1),
  threads: intOption(1, 64).optional(),
});
export type DemoValues = z.output<typeof demoSchema>;
