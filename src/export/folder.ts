// The files of an exported model folder: onnx/model.onnx, optionally onnx/model_quantized.onnx
// and onnx/model_q4.onnx (the names transformers.js loads for dtype 'q8' and 'q4'), and whatever
// the caller adds beside them. Every file is written atomically (temp file, then rename). A big
// ONNX file keeps its weights in `<file>_data` beside it (onnx-community's model.onnx_data), each
// variant deciding for itself: the fp32 file of a 600M-parameter model needs one, its q4 file not.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../io/atomic-write.ts';
import { writeOnnxFile, type OnnxModel, type WriteOnnxOptions } from '../onnx/index.ts';
import { quantizeInt8, type QuantizeReport } from './quantize.ts';
import { quantizeQ4 } from './quantize-q4.ts';
import { toFloat16 } from './fp16.ts';

export interface ModelFolder {
  dir: string;
  /** Paths written, relative to dir. */
  files: string[];
  /** Writes one file and returns its size in bytes. */
  write(rel: string, data: string | Uint8Array): number;
  /** Writes an ONNX model (and its data file, as `o` decides); returns its size on disk and whether it has a data file. */
  writeOnnx(rel: string, model: OnnxModel, o?: WriteOnnxOptions): { bytes: number; externalData: boolean };
}

export function modelFolder(dir: string): ModelFolder {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const files: string[] = [];
  return {
    dir,
    files,
    write(rel, data) {
      atomicWriteFile(join(dir, rel), data);
      files.push(rel);
      return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    },
    writeOnnx(rel, model, o) {
      const w = writeOnnxFile(join(dir, rel), model, o);
      files.push(rel, ...(w.dataFile ? [`${rel}_data`] : []));
      return { bytes: w.bytes, externalData: w.dataFile !== undefined };
    },
  };
}

export interface OnnxFiles {
  /** Sizes on disk, each with its data file when it has one. */
  modelBytes: number;
  quantizedBytes?: number;
  quantize?: QuantizeReport;
  /** onnx/model_q4.onnx's size, when written. */
  q4Bytes?: number;
  /** onnx/model_fp16.onnx's and onnx/model_q4f16.onnx's sizes, when written. */
  fp16Bytes?: number;
  q4f16Bytes?: number;
  /** The ONNX files (names inside onnx/) whose weights are in a `<file>_data` beside them. */
  externalData: string[];
}

/** Writes the fp32 model and, when asked, its int8 (model_quantized.onnx), 4-bit (model_q4.onnx), fp16 (model_fp16.onnx) and 4-bit/fp16 (model_q4f16.onnx) forms. */
export function writeOnnxFiles(
  folder: ModelFolder,
  onnx: OnnxModel,
  int8: false | 'dynamic' | 'weights',
  o: { q4?: boolean; fp16?: boolean; q4f16?: boolean; externalData?: WriteOnnxOptions['externalData'] } = {},
): OnnxFiles {
  const externalData: string[] = [];
  const write = (file: string, model: OnnxModel): number => {
    const w = folder.writeOnnx(`onnx/${file}`, model, { externalData: o.externalData });
    if (w.externalData) externalData.push(file);
    return w.bytes;
  };
  const out: OnnxFiles = { modelBytes: write('model.onnx', onnx), externalData };
  if (int8) {
    const q = quantizeInt8(onnx, { mode: int8 });
    out.quantizedBytes = write('model_quantized.onnx', q.model);
    out.quantize = q.report;
  }
  const q4 = o.q4 || o.q4f16 ? quantizeQ4(onnx).model : undefined;
  if (o.q4) out.q4Bytes = write('model_q4.onnx', q4!);
  if (o.fp16) out.fp16Bytes = write('model_fp16.onnx', toFloat16(onnx));
  // q4f16: 4-bit weights, fp16 activations, scales and embedding scales (the fp16 pass converts them too).
  if (o.q4f16) out.q4f16Bytes = write('model_q4f16.onnx', toFloat16(q4!));
  return out;
}

/**
 * config.json's transformers.js section naming the files with a data file, as onnx-community writes
 * it: transformers.js in a browser fetches `<file>_data` only for the files listed here (in Node it
 * hands onnxruntime the .onnx's path, which finds the data file itself).
 */
export function transformersJsConfig(
  config: Record<string, unknown>,
  externalData: readonly string[],
): Record<string, unknown> {
  if (externalData.length === 0) return config;
  const section = (config['transformers.js_config'] ?? {}) as Record<string, unknown>;
  const listed = (section.use_external_data_format ?? {}) as Record<string, unknown>;
  return {
    ...config,
    'transformers.js_config': {
      ...section,
      use_external_data_format: { ...listed, ...Object.fromEntries(externalData.map((f) => [f, 1])) },
    },
  };
}
