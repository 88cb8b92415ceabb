// The files of an exported model folder: onnx/model.onnx, optionally onnx/model_quantized.onnx
// (the name transformers.js loads for dtype 'q8'), and whatever the caller adds beside them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel, type OnnxModel } from '../onnx/index.ts';
import { quantizeInt8, type QuantizeReport } from './quantize.ts';

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
}

/** Writes the fp32 model and, when asked, its int8 form. */
export function writeOnnxFiles(folder: ModelFolder, onnx: OnnxModel, int8: false | 'dynamic' | 'weights'): OnnxFiles {
  const out: OnnxFiles = { modelBytes: folder.write('onnx/model.onnx', encodeModel(onnx)) };
  if (int8) {
    const q = quantizeInt8(onnx, { mode: int8 });
    out.quantizedBytes = folder.write('onnx/model_quantized.onnx', encodeModel(q.model));
    out.quantize = q.report;
  }
  return out;
}
