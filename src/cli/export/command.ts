// retort export --model DIR --out DIR: a model folder as ONNX (fp32, and int8 with --int8), with
// config.json and the tokenizer, in the layout transformers.js and retort web read.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { exportSchema } from './schema.ts';

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'Export a model folder to ONNX (fp32, and int8 with --int8) for Node, browsers and transformers.js',
  usage: 'retort export --model DIR --out DIR [--int8] [--seq N]',
  description: [
    'Writes onnx/model.onnx (weights baked in), onnx/model_quantized.onnx with --int8 (int8 weight',
    'matrices), config.json and tokenizer.json. Decoders get transformers.js input names and symbolic',
    'batch, sequence and cache dims; classifiers take input_ids and attention_mask padded to --seq',
    "(default: config.json's retort_seq_len, else 128).",
  ].join('\n'),
  examples: ['retort export --model runs/tiny/final --out exported --int8', 'retort web --dir exported'],
  options: {
    model: { type: 'string', arg: 'DIR', help: 'Model folder (config.json, model.safetensors, tokenizer.json)' },
    out: { type: 'string', arg: 'DIR', help: 'Output folder' },
    int8: { type: 'boolean', help: 'Also write onnx/model_quantized.onnx (int8 weights)' },
    seq: { type: 'string', arg: 'N', help: 'Classifiers: padded sequence length' },
  },
  schema: exportSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
