// What `retort eval` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { described, intOption } from '../command.ts';

export const evalSchema = z.object({
  teacher: described(z.string().min(1), "The teacher's model folder", 'retort-demo/models/teacher'),
  student: described(z.array(z.string().min(1)).min(1), "A student's model folder (repeat --student for more)", [
    'retort-demo/models/student',
  ]),
  name: described(
    z.array(z.string().min(1)).default([]),
    'Names the models in the table and the JSON, in the order given: the teacher, then each --student (repeat --name; default each run folder)',
    ['teacher', 'kd'],
  ),
  data: z.string().min(1).default('sotu'),
  'after-year': intOption(1789, 3000).default(1990),
  seq: intOption(2).optional(),
  batch: intOption(1).default(8),
  batches: intOption(1).default(16),
  runs: intOption(1).default(20),
  threads: intOption(1, 64).default(1),
  'no-speed': z.boolean().default(false),
  'no-memory': z.boolean().default(false),
  out: z.string().min(1).optional(),
  prompts: intOption(1).default(200),
  'max-new-tokens': intOption(1).default(64),
  temperature: z.coerce.number().min(0).default(0),
  examples: intOption(0).default(20),
});
export type EvalValues = z.output<typeof evalSchema>;
