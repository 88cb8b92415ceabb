// ONNX models as files: one .onnx, or an .onnx whose initializers sit in `<file>_data` beside it
// (onnx-community's layout: onnx/model.onnx + onnx/model.onnx_data; model_fp16.onnx +
// model_fp16.onnx_data). onnxruntime given the .onnx's path finds the data file itself; readOnnxFile
// reads both. Each file is written to a temp name and renamed into place, so a crash leaves either
// the old file or the whole new one, never a truncated one under the real name.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { atomicWrite, writeAll } from '../io/atomic-write.ts';
import { decodeModel } from './decode.ts';
import { encodeModel } from './encode.ts';
import { externalDataPieces, layoutExternalData, type ExternalDataReader } from './external.ts';
import type { OnnxModel } from './model.ts';

/**
 * 'auto' keeps the weights in a data file above this many bytes of initializers. Well under
 * protobuf's 2 GiB, so graph, framing and later edits never push one file over it; and a file this
 * big is loaded from disk anyway, where onnxruntime reads the aligned data file directly instead of
 * parsing it out of one protobuf message.
 */
export const EXTERNAL_DATA_ABOVE = 2 ** 30;

export interface WriteOnnxOptions {
  /** true: initializers in `<file>_data`; false: one file; 'auto' (default): a data file above EXTERNAL_DATA_ABOVE. */
  externalData?: boolean | 'auto';
  /** Initializers under this many bytes stay in the .onnx (default EXTERNAL_MIN_BYTES, 1 KiB, as onnx's helper). */
  minExternalBytes?: number;
}

export interface WrittenOnnx {
  /** Paths written: the .onnx, then its data file when there is one. */
  files: string[];
  /** Bytes on disk, both files together. */
  bytes: number;
  /** The data file's name, relative to the .onnx's folder, when the weights went there. */
  dataFile?: string;
}

/** The data file a model at `path` keeps its weights in, by the onnx-community convention. */
export const dataFileOf = (path: string): string => `${path}_data`;

export function initializerBytes(model: OnnxModel): number {
  return model.graph.initializers.reduce((n, t) => n + t.rawData.byteLength, 0);
}

/** Writes `model` to `path` (and its data file, as `externalData` decides), each atomically. */
export function writeOnnxFile(path: string, model: OnnxModel, o: WriteOnnxOptions = {}): WrittenOnnx {
  const mode = o.externalData ?? 'auto';
  const external = mode === 'auto' ? initializerBytes(model) > EXTERNAL_DATA_ABOVE : mode;
  const dataPath = dataFileOf(path);
  if (!external) {
    const bytes = encodeModel(model);
    writeAtomically(path, [bytes]);
    // A data file from an earlier, bigger export would be counted in the folder's size and shipped with it.
    rmSync(dataPath, { force: true });
    return { files: [path], bytes: bytes.byteLength };
  }
  const layout = layoutExternalData(model, { location: basename(dataPath), minBytes: o.minExternalBytes });
  const bytes = encodeModel(model, { external: layout });
  // The data first: the new .onnx never names data that is not in place yet.
  writeAtomically(dataPath, externalDataPieces(layout));
  writeAtomically(path, [bytes]);
  return { files: [path, dataPath], bytes: bytes.byteLength + layout.length, dataFile: basename(dataPath) };
}

/**
 * Reads an .onnx file and the external data files it names, beside it. 'reference' leaves the
 * weights in their files (the graph alone, for inspecting or editing); either way a data file that
 * is missing or shorter than a reference is refused by name.
 */
export function readOnnxFile(path: string, o: { externalData?: 'load' | 'reference' } = {}): OnnxModel {
  const bytes = readFileSync(path);
  if (o.externalData === 'reference') {
    const model = decodeModel(bytes, { externalData: 'reference' });
    checkExternalData(path, model);
    return model;
  }
  const files = new ExternalFiles(path);
  try {
    return decodeModel(bytes, { externalData: files.reader });
  } finally {
    files.close();
  }
}

/** Whether any initializer of `model` (decoded with externalData: 'reference') sits in a data file. */
export const usesExternalData = (model: OnnxModel): boolean => model.graph.initializers.some((t) => t.external);

/** Refuses, by name, a data file the model at `path` references that is missing or too short. */
export function checkExternalData(path: string, model: OnnxModel): void {
  const files = new ExternalFiles(path);
  try {
    for (const t of model.graph.initializers) if (t.external) files.check(t.external, t.name);
  } finally {
    files.close();
  }
}

/**
 * Every data file the model at `path` references, whole, as onnxruntime's externalData session
 * option takes them (for a session made from edited bytes, which has no path to look beside).
 * onnxruntime copies them into the session: drop the arrays once it is created.
 */
export function readExternalDataFiles(path: string, model: OnnxModel): { path: string; data: Uint8Array }[] {
  checkExternalData(path, model);
  const locations = [...new Set(model.graph.initializers.flatMap((t) => (t.external ? [t.external.location] : [])))];
  return locations.map((location) => {
    const length = statSync(join(dirname(path), location)).size;
    const files = new ExternalFiles(path);
    try {
      return { path: location, data: files.reader({ location, offset: 0, length }, '(the whole file)') };
    } finally {
      files.close();
    }
  });
}

/** Bytes on disk of an ONNX model: the .onnx and its `<file>_data`, when there is one. */
export function onnxFileBytes(path: string): number {
  const data = dataFileOf(path);
  return statSync(path).size + (existsSync(data) ? statSync(data).size : 0);
}

/** The data files one .onnx names, opened on first use and checked before every read. */
class ExternalFiles {
  private readonly open = new Map<string, { fd: number; size: number }>();
  constructor(private readonly onnxPath: string) {}

  check(ref: { location: string; offset: number; length: number }, tensor: string): { fd: number; size: number } {
    const full = join(dirname(this.onnxPath), ref.location);
    let f = this.open.get(full);
    if (!f) {
      if (!existsSync(full))
        throw new Error(
          `${this.onnxPath}: tensor '${tensor}' keeps its data in '${ref.location}', which is missing (no ${full}); copy or download the .onnx together with its data file`,
        );
      const fd = openSync(full, 'r');
      f = { fd, size: fstatSync(fd).size };
      this.open.set(full, f);
    }
    if (ref.offset + ref.length > f.size)
      throw new Error(
        `${full} holds ${f.size} bytes, but tensor '${tensor}' of ${this.onnxPath} needs bytes ${ref.offset} to ${ref.offset + ref.length}: the data file is truncated (an interrupted download or copy); copy it again`,
      );
    return f;
  }

  readonly reader: ExternalDataReader = (ref, tensor) => {
    const { fd } = this.check(ref, tensor);
    const out = new Uint8Array(ref.length);
    for (let done = 0; done < out.length; ) {
      // A single readSync is limited to 2 GiB.
      const got = readSync(fd, out, done, Math.min(1 << 30, out.length - done), ref.offset + done);
      if (got === 0) throw new Error(`${join(dirname(this.onnxPath), ref.location)}: ended while reading '${tensor}'`);
      done += got;
    }
    return out;
  };

  close(): void {
    for (const { fd } of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}

/** Writes the pieces to a temp file beside `path` and moves it into place (io/atomic-write.ts). */
function writeAtomically(path: string, pieces: Iterable<Uint8Array>): void {
  atomicWrite(path, (fd) => {
    for (const p of pieces) writeAll(fd, p);
  });
}
