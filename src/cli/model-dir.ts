// A model folder given on the command line: a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json) as retort train, retort demo and saveHfModel write, plus the ONNX files an export
// put beside them (onnx/model.onnx, onnx/model_quantized.onnx). A wrong path is a usage error
// (exit 2) naming the flag and what the folder lacks.
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadHfModel, type LoadedHfModel } from '../models/index.ts';
import { type HfTokenizer, loadHfTokenizer } from '../models/tokenizers/hf-tokenizer.ts';
import { UsageError } from './command.ts';

export interface ModelDir {
  dir: string;
  /** The folder's name, for tables. */
  name: string;
  loaded: LoadedHfModel;
  tokenizer?: HfTokenizer;
  onnx: { fp32?: string; int8?: string };
}

export function loadModelDir(flag: string, dir: string, command: string): ModelDir {
  const abs = resolve(dir);
  const fix =
    'pass a model folder (config.json + model.safetensors): retort train writes {checkpoint.dir}/final, retort demo writes retort-demo/models/student';
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new UsageError(`${flag} ${dir}: no such folder; ${fix}`, command);
  if (!existsSync(join(abs, 'config.json')))
    throw new UsageError(`${flag} ${dir}: has no config.json, so it is not a model folder; ${fix}`, command);
  if (!existsSync(join(abs, 'model.safetensors')) && !existsSync(join(abs, 'model.safetensors.index.json'))) {
    throw new UsageError(
      `${flag} ${dir}: has no model.safetensors (an ONNX-only export cannot be evaluated or re-exported); ${fix}`,
      command,
    );
  }
  const loaded = loadHfModel(abs);
  const tokenizer = existsSync(join(abs, 'tokenizer.json')) ? loadHfTokenizer(abs) : undefined;
  const file = (f: string) => (existsSync(join(abs, 'onnx', f)) ? join(abs, 'onnx', f) : undefined);
  return {
    dir: abs,
    name: basename(abs),
    loaded,
    tokenizer,
    onnx: { fp32: file('model.onnx'), int8: file('model_quantized.onnx') },
  };
}
