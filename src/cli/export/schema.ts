// What `retort export` accepts: the schema that checks and converts its option strings.
import { z } from 'zod';
import { described, intOption } from '../command.ts';

export const exportSchema = z.object({
  model: described(
    z.string().min(1),
    'The model folder: config.json, model.safetensors, tokenizer.json',
    'runs/tiny/final',
  ),
  out: described(z.string().min(1), 'The folder to write the export to', 'exported'),
  int8: z.boolean().default(false),
  formats: described(
    z.string().min(1),
    'Comma-separated: onnx, int8, fp16, q4, q4f16, gguf-f32, gguf-f16, gguf-q8_0, gguf-q4_0',
    'onnx,gguf-q4_0',
  ).default('onnx'),
  seq: intOption(1).optional(),
  'external-data': described(
    z.enum(['auto', 'always', 'never']),
    'Weights in onnx/<file>_data beside each ONNX file: auto (files over 1 GiB of weights), always, never',
    'always',
  ).default('auto'),
});
export type ExportValues = z.output<typeof exportSchema>;
