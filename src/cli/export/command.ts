// retort export --model DIR --out DIR: a model folder as ONNX (fp32, and int8 with --int8), with
// config.json and the tokenizer, in the layout transformers.js and retort web read.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { exportSchema } from './schema.ts';

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'Export a model folder to ONNX (fp32, and int8 with --int8) for Node, browsers and transformers.js',
  usage:
    'retort export --model DIR --out DIR [--formats onnx,int8,q4,gguf-f16,gguf-q4_0] [--int8] [--seq N] [--external-data auto|always|never]',
  description: [
    'Writes onnx/model.onnx (weights baked in), onnx/model_quantized.onnx with --int8 (int8 weight',
    'matrices), config.json and tokenizer.json. Decoders get transformers.js input names and symbolic',
    'batch, sequence and cache dims; classifiers take input_ids and attention_mask padded to --seq',
    "(default: config.json's retort_seq_len, else 128). --formats adds GGUF files for llama.cpp, Ollama",
    'and node-llama-cpp (gguf/model-TYPE.gguf: f32, f16, q8_0 or q4_0, with the tokenizer inside) for',
    "GPT-2 and Llama/Qwen2/Mistral models; --int8 is the same as adding int8. Each file's size is printed.",
    'An ONNX file with over 1 GiB of weights keeps them in onnx/<file>_data beside it (model.onnx_data,',
    "as onnx-community ships models over protobuf's 2 GiB limit); --external-data always|never overrides.",
  ].join('\n'),
  examples: [
    'retort export --model runs/tiny/final --out exported --int8',
    'retort export --model runs/kd/final --out shipped --formats onnx,int8,gguf-f16,gguf-q4_0',
    'retort web --dir exported',
  ],
  options: {
    model: { type: 'string', arg: 'DIR', help: 'Model folder (config.json, model.safetensors, tokenizer.json)' },
    out: { type: 'string', arg: 'DIR', help: 'Output folder' },
    int8: { type: 'boolean', help: 'Also write onnx/model_quantized.onnx (int8 weights)' },
    formats: {
      type: 'string',
      arg: 'LIST',
      default: 'onnx',
      help: 'Files to write: onnx, int8, fp16, q4, q4f16, gguf-f32, gguf-f16, gguf-q8_0, gguf-q4_0',
    },
    seq: { type: 'string', arg: 'N', help: 'Classifiers: padded sequence length' },
    'external-data': {
      type: 'string',
      arg: 'WHEN',
      default: 'auto',
      help: 'Weights in onnx/<file>_data: auto (over 1 GiB), always, never',
    },
  },
  schema: exportSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
