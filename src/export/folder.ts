// The files of an exported model folder: onnx/model.onnx, optionally onnx/model_quantized.onnx
// and onnx/model_q4.onnx (the names transformers.js loads for dtype 'q8' and 'q4'), and whatever
// the caller adds beside them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel, type OnnxModel } from '../onnx/index.ts';
import { quantizeInt8, type QuantizeReport } from './quantize.ts';
import { quantizeQ4 } from './quantize-q4.ts';
import { toFloat16 } from './fp16.ts';

export interface ModelFolder {
  dir: string;
  /** Paths written, relative to dir. */
  files: string[];
  /** Writes one file and returns its size in bytes. */
  write(rel: string, data: string | Uint8Array): number;
}

export function modelFolder(dir: string): ModelFolder {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const files: string[] = [];
  return {
    dir,
    files,
    write(rel, data) {
      writeFileSync(join(dir, rel), data);
      files.push(rel);
      return typeof data === 'string' ? data.length : data.byteLength;
    },
  };
}

export interface OnnxFiles {
  modelBytes: number;
  quantizedBytes?: number;
  quantize?: QuantizeReport;
  /** onnx/model_q4.onnx's size, when written. */
  q4Bytes?: number;
  /** onnx/model_fp16.onnx's and onnx/model_q4f16.onnx's sizes, when written. */
  fp16Bytes?: number;
  q4f16Bytes?: number;
}

/** Writes the fp32 model and, when asked, its int8 (model_quantized.onnx), 4-bit (model_q4.onnx), fp16 (model_fp16.onnx) and 4-bit/fp16 (model_q4f16.onnx) forms. */
export function writeOnnxFiles(
  folder: ModelFolder,
  onnx: OnnxModel,
  int8: false | 'dynamic' | 'weights',
  o: { q4?: boolean; fp16?: boolean; q4f16?: boolean } = {},
): OnnxFiles {
  const out: OnnxFiles = { modelBytes: folder.write('onnx/model.onnx', encodeModel(onnx)) };
  if (int8) {
    const q = quantizeInt8(onnx, { mode: int8 });
    out.quantizedBytes = folder.write('onnx/model_quantized.onnx', encodeModel(q.model));
    out.quantize = q.report;
  }
  const q4 = o.q4 || o.q4f16 ? quantizeQ4(onnx).model : undefined;
  if (o.q4) out.q4Bytes = folder.write('onnx/model_q4.onnx', encodeModel(q4!));
  if (o.fp16) out.fp16Bytes = folder.write('onnx/model_fp16.onnx', encodeModel(toFloat16(onnx)));
  // q4f16: 4-bit weights, fp16 activations, scales and embedding scales (the fp16 pass converts them too).
  if (o.q4f16) out.q4f16Bytes = folder.write('onnx/model_q4f16.onnx', encodeModel(toFloat16(q4!)));
  return out;
}
