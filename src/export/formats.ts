// The files `retort export --formats` can write, one row each: the name on the command line, the
// file it writes, and what loads it. ONNX rows share one export of the graph; GGUF rows one file each.
import { GGUF_FILE_TYPES, type GgufFileType } from './gguf/index.ts';

export interface ExportFormat {
  name: string;
  kind: 'onnx' | 'gguf';
  /** Path of the file in the export folder. */
  file: string;
  /** What reads it. */
  loads: string;
  /** GGUF: the file type. */
  gguf?: GgufFileType;
}

export const EXPORT_FORMATS: readonly ExportFormat[] = [
  { name: 'onnx', kind: 'onnx', file: 'onnx/model.onnx', loads: 'onnxruntime (node, web), transformers.js dtype fp32' },
  {
    name: 'int8',
    kind: 'onnx',
    file: 'onnx/model_quantized.onnx',
    loads: 'onnxruntime (node, web), transformers.js dtype q8',
  },
  {
    name: 'fp16',
    kind: 'onnx',
    file: 'onnx/model_fp16.onnx',
    loads: 'onnxruntime (node, web: WebGPU in half precision), transformers.js dtype fp16',
  },
  {
    name: 'q4f16',
    kind: 'onnx',
    file: 'onnx/model_q4f16.onnx',
    loads: 'onnxruntime (node, web: WebGPU), transformers.js dtype q4f16',
  },
  {
    name: 'q4',
    kind: 'onnx',
    file: 'onnx/model_q4.onnx',
    loads: 'onnxruntime (node, web: wasm, WebGPU), transformers.js dtype q4',
  },
  ...(Object.keys(GGUF_FILE_TYPES) as GgufFileType[]).map((t) => ({
    name: `gguf-${t}`,
    kind: 'gguf' as const,
    file: `gguf/model-${t}.gguf`,
    loads: 'llama.cpp, Ollama, node-llama-cpp',
    gguf: t,
  })),
];

/** Parses a comma list of format names; an unknown one is an error naming it and the known ones. */
export function parseFormats(list: string): ExportFormat[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new Error(`no formats given; name one or more of ${EXPORT_FORMATS.map((f) => f.name).join(', ')}`);
  return names.map((n) => {
    const f = EXPORT_FORMATS.find((x) => x.name === n);
    if (!f) throw new Error(`unknown format '${n}'; the formats are ${EXPORT_FORMATS.map((x) => x.name).join(', ')}`);
    return f;
  });
}
