// Exports a decoder as a Hugging Face / transformers.js model folder (the onnx-community layout):
//   config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
//   onnx/model.onnx            fp32, weights baked in (in onnx/model.onnx_data beside it for big models);
//   onnx/model_quantized.onnx  int8 weights (transformers.js dtype 'q8'), with { int8: true }.
// The graph has transformers.js's I/O names and symbolic dims, so one file serves every batch size,
// prompt length and cache length in onnxruntime (node, web):
//   input_ids       int64 [batch_size, sequence_length]
//   attention_mask  int64 [batch_size, total_sequence_length]   (1 = attend, 0 = padding)
//   position_ids    int64 [batch_size, sequence_length]
//   past_key_values.{i}.key / .value  float32 [batch_size, kv_heads, past_sequence_length, head_dim]
//   → logits float32 [batch_size, sequence_length, vocab]; present.{i}.key / .value [.., total_sequence_length, ..]
// The first call feeds empty past tensors (past_sequence_length 0), as transformers.js does.
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { greater, input, reshape, type Tensor } from '../graph/index.ts';
import { hfConfigOf } from '../models/hf/index.ts';
import type { KvPair } from '../models/types.ts';
import type { OnnxModel } from '../onnx/model.ts';
import { ParamStore } from '../runtime/index.ts';
import type { DecoderModel, ParamValues } from '../generate/types.ts';
import { lowerPolymorphic, type SymbolicDim } from './polymorphic.ts';
import { modelFolder, transformersJsConfig, writeOnnxFiles } from './folder.ts';
import type { QuantizeReport } from './quantize.ts';

export interface ExportOptions {
  /**
   * Also write onnx/model_quantized.onnx with int8 weight matrices (see quantize.ts): true or
   * 'dynamic' for int8 matmuls on quantized activations, 'weights' for int8 storage with float math.
   */
  int8?: boolean | 'dynamic' | 'weights';
  /** Also write onnx/model_q4.onnx: 4-bit weights in MatMulNBits (see quantize-q4.ts). */
  q4?: boolean;
  /** Also write onnx/model_fp16.onnx (fp16 weights and activations, fp32 inputs/outputs; see fp16.ts). */
  fp16?: boolean;
  /** Also write onnx/model_q4f16.onnx: the q4 file with fp16 activations. */
  q4f16?: boolean;
  /** config.json; default: the model family's (src/models/hf hfConfigOf, GPT-2 and Llama/Qwen2). */
  hfConfig?: Record<string, unknown>;
  /** Extra generation_config.json fields (max_new_tokens, temperature, ...); bos/eos come from the config. */
  generation?: Record<string, unknown>;
  /** A tokenizer to save (Retort's Tokenizer.save), or a folder to copy tokenizer.json and tokenizer_config.json from. */
  tokenizer?: { save(dir: string): void } | string;
  /**
   * Weights of each ONNX file in `<file>_data` beside it (onnx-community's model.onnx_data): 'auto'
   * (default) for files whose weights pass 1 GiB (EXTERNAL_DATA_ABOVE; protobuf caps one file at
   * 2 GiB), true for every file, false for none (fails above 2 GiB).
   */
  externalData?: boolean | 'auto';
}

export interface ExportResult {
  dir: string;
  /** Paths written, relative to dir. */
  files: string[];
  modelBytes: number;
  quantizedBytes?: number;
  quantize?: QuantizeReport;
  /** onnx/model_q4.onnx's size, when written. */
  q4Bytes?: number;
  fp16Bytes?: number;
  q4f16Bytes?: number;
  /** The ONNX files (names inside onnx/) whose weights are in a `<file>_data` beside them. */
  externalData: string[];
}

function hfConfig(model: DecoderModel): Record<string, unknown> {
  try {
    return hfConfigOf(model);
  } catch (err) {
    throw new Error(`exportDecoderOnnx: no config.json for this model (${(err as Error).message}); pass hfConfig`, {
      cause: err,
    });
  }
}

const DIMS: SymbolicDim[] = [
  { name: 'batch_size', from: { input: 'input_ids', axis: 0 } },
  { name: 'sequence_length', from: { input: 'input_ids', axis: 1 } },
  { name: 'past_sequence_length', from: { input: 'past_key_values.0.key', axis: 2 } },
  { name: 'total_sequence_length', from: { sum: ['past_sequence_length', 'sequence_length'] } },
];

// Base, each dim varied alone, all varied: distinct small sizes, so models with short contexts export too.
const BINDINGS = [
  { batch_size: 2, sequence_length: 3, past_sequence_length: 5 },
  { batch_size: 4, sequence_length: 3, past_sequence_length: 5 },
  { batch_size: 2, sequence_length: 6, past_sequence_length: 5 },
  { batch_size: 2, sequence_length: 3, past_sequence_length: 8 },
  { batch_size: 3, sequence_length: 7, past_sequence_length: 4 },
];

/** The decoder as one shape-polymorphic ONNX model with its parameters baked in. */
export function decoderOnnxModel(model: DecoderModel, params: ParamValues | ParamStore): OnnxModel {
  const values = params instanceof ParamStore ? params.values : params;
  const initializers = new Map(
    [...model.params.keys()].map((name) => {
      const v = values.get(name);
      if (!v)
        throw new Error(
          `exportDecoderOnnx: parameter '${name}' has no value; pass the model's ParamStore (or a loaded checkpoint)`,
        );
      return [name, v.data];
    }),
  );
  const longest = Math.max(...BINDINGS.map((b) => b.sequence_length + b.past_sequence_length));
  if ((model.config.maxPositions ?? Infinity) < longest)
    throw new Error(
      `exportDecoderOnnx: tracing needs ${longest} positions but the model has maxPositions ${model.config.maxPositions}`,
    );

  const probe = model.forward(input('input_ids', [1, 1], 'int64')).present;
  const layers = probe.length,
    heads = probe[0]!.key.shape[1]!,
    headDim = probe[0]!.key.shape[3]!;
  const kvNames = Array.from(
    { length: layers },
    (_, i) =>
      [`past_key_values.${i}.key`, `past_key_values.${i}.value`, `present.${i}.key`, `present.${i}.value`] as const,
  );

  const trace = (s: Record<string, number>): Record<string, Tensor> => {
    const [b, t, p, total] = [s.batch_size!, s.sequence_length!, s.past_sequence_length!, s.total_sequence_length!];
    const ids = input('input_ids', [b, t], 'int64');
    const mask = input('attention_mask', [b, total], 'int64');
    const positionIds = input('position_ids', [b, t], 'int64');
    const past: KvPair[] = kvNames.map(([k, v]) => ({
      key: input(k, [b, heads, p, headDim]),
      value: input(v, [b, heads, p, headDim]),
    }));
    const keep = reshape(greater(mask, 0), [b, 1, 1, total]); // (B, 1, 1, S) over keys
    const out = model.forward(ids, { past, positionIds, keep });
    const outputs: Record<string, Tensor> = { logits: out.logits };
    kvNames.forEach(([, , pk, pv], i) => {
      outputs[pk] = out.present[i]!.key;
      outputs[pv] = out.present[i]!.value;
    });
    return outputs;
  };

  const kvIo = (len: string) => ['batch_size', null, len, null];
  const io: Record<string, (string | null)[]> = {
    input_ids: ['batch_size', 'sequence_length'],
    attention_mask: ['batch_size', 'total_sequence_length'],
    position_ids: ['batch_size', 'sequence_length'],
    logits: ['batch_size', 'sequence_length', null],
  };
  for (const [k, v, pk, pv] of kvNames)
    Object.assign(io, {
      [k]: kvIo('past_sequence_length'),
      [v]: kvIo('past_sequence_length'),
      [pk]: kvIo('total_sequence_length'),
      [pv]: kvIo('total_sequence_length'),
    });

  return lowerPolymorphic({
    dims: DIMS,
    bindings: BINDINGS,
    trace,
    io,
    // Standard ops only, so the file runs in onnxruntime-web and other runtimes.
    lower: { name: 'retort_decoder', contribOps: false, initializers, metadata: { producer: 'retort' } },
  }).model;
}

/** Writes the model folder (see the top of this file) and returns what it wrote. */
export function exportDecoderOnnx(
  model: DecoderModel,
  params: ParamValues | ParamStore,
  dir: string,
  o: ExportOptions = {},
): ExportResult {
  const hf = o.hfConfig ?? hfConfig(model);
  const onnx = decoderOnnxModel(model, params);
  const folder = modelFolder(dir);
  const { files, write } = folder;
  const result: ExportResult = {
    dir,
    files,
    ...writeOnnxFiles(folder, onnx, o.int8 ? (o.int8 === 'weights' ? 'weights' : 'dynamic') : false, {
      q4: o.q4,
      fp16: o.fp16,
      q4f16: o.q4f16,
      externalData: o.externalData,
    }),
  };
  write('config.json', `${JSON.stringify(transformersJsConfig(hf, result.externalData), null, 2)}\n`);
  const generation = Object.fromEntries(
    Object.entries({
      bos_token_id: hf.bos_token_id,
      eos_token_id: hf.eos_token_id,
      pad_token_id: hf.pad_token_id,
      ...o.generation,
    }).filter(([, v]) => v !== undefined && v !== null),
  );
  write('generation_config.json', `${JSON.stringify(generation, null, 2)}\n`);
  if (typeof o.tokenizer === 'string') {
    const src = o.tokenizer;
    if (!existsSync(join(src, 'tokenizer.json')))
      throw new Error(
        `exportDecoderOnnx: '${src}' has no tokenizer.json; pass the folder a Hugging Face tokenizer was saved in`,
      );
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      if (existsSync(join(src, f)) && statSync(join(src, f)).isFile()) {
        copyFileSync(join(src, f), join(dir, f));
        files.push(f);
      }
    }
  } else if (o.tokenizer) {
    o.tokenizer.save(dir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(dir, f))) files.push(f);
  }
  return result;
}
