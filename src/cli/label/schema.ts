// What `retort label` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { storeEncodings, targetKinds } from '../../distill/store/format.ts';
import { described, intOption } from '../command.ts';

export const labelSchema = z.object({
  teacher: z.string().min(1).optional(),
  shard: z.string().optional(),
  merge: z.boolean().default(false),
  'top-k': intOption(1).optional(),
  batch: intOption(1).optional(),
  targets: described(
    z.enum(targetKinds).optional(),
    "What each position keeps: topk (the teacher's most likely tokens) or sampled (tokens drawn from it, weighted count / draws)",
    'sampled',
  ),
  samples: described(intOption(1).optional(), 'Draws per position for --targets sampled', '12'),
  encoding: described(
    z.enum(storeEncodings).optional(),
    'Record encoding: compact (fp16 log-probs, packed ids, tail mass) or f32 (8 bytes per entry)',
    'compact',
  ),
});
export type LabelValues = z.output<typeof labelSchema>;
