// What `retort serve` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { described, intOption } from '../command.ts';

export const serveSchema = z.object({
  name: z.string().min(1).optional(),
  host: described(z.string().min(1), 'The address to listen on', '127.0.0.1').default('127.0.0.1'),
  port: intOption(0, 65535).default(8000),
  tokenizer: z.string().min(1).optional(),
  concurrency: intOption(1).optional(),
  'no-batching': z.boolean().optional(),
  queue: intOption(0).default(256),
  'max-body': intOption(1).default(1 << 20),
  'max-tokens': intOption(1).default(1024),
  'max-prompt-tokens': intOption(1).optional(),
  'grace-ms': intOption(0).default(10_000),
  threads: intOption(1).optional(),
  quiet: z.boolean().optional(),
});
export type ServeValues = z.output<typeof serveSchema>;
