// The files of an exported model folder: onnx/model.onnx, optionally onnx/model_quantized.onnx
// and onnx/model_q4.onnx (the names transformers.js loads for dtype 'q8' and 'q4'), and whatever
// the caller adds beside them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel, type OnnxModel } from '../onnx/index.ts';
import { quantizeInt8, type QuantizeReport } from './quantize.ts';
import { quantizeQ4 } from './quantize-q4.ts';

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
}

/** Writes the fp32 model and, when asked, its int8 form (model_quantized.onnx) and 4-bit form (model_q4.onnx). */
export function writeOnnxFiles(
  folder: ModelFolder,
  onnx: OnnxModel,
  int8: false | 'dynamic' | 'weights',
  o: { q4?: boolean } = {},
): OnnxFiles {
  const out: OnnxFiles = { modelBytes: folder.write('onnx/model.onnx', encodeModel(onnx)) };
  if (int8) {
    const q = quantizeInt8(onnx, { mode: int8 });
    out.quantizedBytes = folder.write('onnx/model_quantized.onnx', encodeModel(q.model));
    out.quantize = q.report;
  }
  if (o.q4) out.q4Bytes = folder.write('onnx/model_q4.onnx', encodeModel(quantizeQ4(onnx).model));
  return out;
}
