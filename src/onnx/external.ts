// ONNX external data (onnx/docs/ExternalData.md): initializers whose bytes live in a file beside the
// .onnx, named by TensorProto.external_data {location, offset, length} with data_location EXTERNAL.
// It is how models over protobuf's 2 GiB limit are stored, and how onnx-community ships them
// (onnx/model.onnx + onnx/model.onnx_data).
//
// The layout follows onnx's own writer (onnx_ir.external_data): tensors in ascending size, each one
// over 1 MiB starting at a multiple of 64 KiB (mmap's allocation granularity on every OS, so a
// runtime can map a tensor instead of copying it), the gaps zero-filled. Tensors under 1 KiB (shape
// constants, scalars) stay in the .onnx, as onnx's convert_model_to_external_data leaves them.
import type { OnnxExternalRef, OnnxModel, OnnxTensor } from './model.ts';

/** onnx's size_threshold default: smaller initializers stay inside the .onnx file. */
export const EXTERNAL_MIN_BYTES = 1024;
const ALIGN_ABOVE = 1 << 20;
const ALIGNMENT = 1 << 16;

export interface ExternalDataLayout {
  /** The data file's name, relative to the .onnx file's folder. */
  location: string;
  /** The data file's size in bytes. */
  length: number;
  /** Byte offset of each initializer placed in the file. */
  offsets: ReadonlyMap<OnnxTensor, number>;
  /** The placed initializers in file order. */
  order: readonly OnnxTensor[];
}

/**
 * Where each of the top-level initializers of at least `minBytes` goes in a data file named
 * `location`. Tensors that already reference a data file (decoded with externalData: 'reference')
 * keep their reference, and cannot share a name with the new file.
 */
export function layoutExternalData(model: OnnxModel, o: { location: string; minBytes?: number }): ExternalDataLayout {
  checkLocation(o.location, `external data file '${o.location}'`);
  const min = o.minBytes ?? EXTERNAL_MIN_BYTES;
  const clash = model.graph.initializers.find((t) => t.external?.location === o.location);
  if (clash)
    throw new Error(
      `tensor '${clash.name}' already keeps its data in '${o.location}'; write the new data file under another name, or load the weights first (externalData: 'load')`,
    );
  const order = model.graph.initializers
    .filter((t) => !t.external && t.rawData.byteLength >= min)
    .sort((a, b) => a.rawData.byteLength - b.rawData.byteLength);
  const offsets = new Map<OnnxTensor, number>();
  let at = 0;
  for (const t of order) {
    if (t.rawData.byteLength > ALIGN_ABOVE) at = Math.ceil(at / ALIGNMENT) * ALIGNMENT;
    offsets.set(t, at);
    at += t.rawData.byteLength;
  }
  return { location: o.location, length: at, offsets, order };
}

const ZEROS = new Uint8Array(ALIGNMENT);

/** The data file's bytes in order: zero padding and each tensor's own bytes (views, no copies). */
export function* externalDataPieces(layout: ExternalDataLayout): Generator<Uint8Array> {
  let at = 0;
  for (const t of layout.order) {
    const offset = layout.offsets.get(t)!;
    if (offset > at) yield ZEROS.subarray(0, offset - at);
    yield t.rawData;
    at = offset + t.rawData.byteLength;
  }
}

/** The whole data file as one array (small models, tests, an in-memory session). */
export function externalDataBytes(layout: ExternalDataLayout): Uint8Array {
  const out = new Uint8Array(layout.length);
  let at = 0;
  for (const p of externalDataPieces(layout)) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Refuses locations that could reach outside the model's folder (absolute paths, '..'), as onnx's
 * checker does: a downloaded model must not make its loader read arbitrary files.
 */
export function checkLocation(location: string, where: string): void {
  const parts = location.split(/[\\/]/);
  if (location === '' || /^([\\/]|[A-Za-z]:)/.test(location) || parts.includes('..'))
    throw new Error(
      `${where}: external data location '${location}' must be a path inside the model's folder (relative, without '..')`,
    );
}

/**
 * Supplies the bytes an external reference names, exactly `ref.length` of them, or throws naming
 * the file. `tensor` is the tensor's name, for the message.
 */
export type ExternalDataReader = (ref: OnnxExternalRef, tensor: string) => Uint8Array;
