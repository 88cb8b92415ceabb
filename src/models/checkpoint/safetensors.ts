// Reads and writes safetensors files, the format Hugging Face checkpoints ship in.
// Reading goes through safetensors-reader.ts (header validated first, then each tensor read at its offset
// into its own aligned buffer: no 2 GiB whole-file limit, and no tensor aliases another's memory).
// Writing matches the reference writer byte for byte and replaces the file atomically.
import { atomicWrite, writeAll } from '../../io/atomic-write.ts';
import { DTYPES, isSafetensorsDType, numElements } from './dtypes.ts';
import { assertLittleEndian, openSafetensors, type Tensor, type TensorReader } from './safetensors-reader.ts';

export { toFloat32, fromFloat32 } from './float16.ts';
export type { SafetensorsDType, TensorData } from './dtypes.ts';
export { openSafetensors, type Tensor, type TensorInfo, type TensorReader } from './safetensors-reader.ts';

export interface SafetensorsFile {
  /** In file order (by data offset). */
  tensors: Map<string, Tensor>;
  /** The header's "__metadata__" (e.g. {format: 'pt'}); {} when absent. */
  metadata: Record<string, string>;
}

/**
 * Reads every tensor of a .safetensors file, or of the bytes of one (`name` then labels errors), in its
 * own dtype. To load a big checkpoint, open it (openSafetensors) and read one tensor at a time instead.
 */
export function readSafetensors(source: string | Uint8Array, options: { name?: string } = {}): SafetensorsFile {
  return readAllTensors(openSafetensors(source, options));
}

/** Every tensor of an opened file or checkpoint, in its own dtype; then closes the reader. */
export function readAllTensors(reader: TensorReader): SafetensorsFile {
  try {
    return { tensors: new Map([...reader.tensors.keys()].map((n) => [n, reader.read(n)])), metadata: reader.metadata };
  } finally {
    reader.close();
  }
}

/** Tensors in the order the reference writer uses: descending dtype rank, then name. */
function layout(tensors: Map<string, Tensor>): [string, Tensor][] {
  return [...tensors].sort(
    ([an, a], [bn, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || (an < bn ? -1 : an > bn ? 1 : 0),
  );
}

function checkTensor(name: string, t: Tensor): void {
  const where = `tensor '${name}'`;
  if (name === '' || name === '__metadata__')
    throw new Error(`${where}: this name is reserved or empty; rename the tensor`);
  if (!isSafetensorsDType(t.dtype))
    throw new Error(
      `${where}: unknown dtype ${JSON.stringify(t.dtype)}; expected one of ${Object.keys(DTYPES).join(', ')}`,
    );
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape ${JSON.stringify(t.shape)} must be an array of non-negative integers`);
  }
  const row = DTYPES[t.dtype];
  if (!(t.data instanceof row.arrayType)) {
    throw new Error(
      `${where}: dtype ${t.dtype} needs a ${row.arrayType.name}, got ${t.data?.constructor?.name}; for F16/BF16 from floats use fromFloat32`,
    );
  }
  if (t.data.length !== numElements(t.shape)) {
    throw new Error(
      `${where}: shape [${t.shape.join(', ')}] has ${numElements(t.shape)} elements but data has ${t.data.length}`,
    );
  }
}

function toMap(tensors: Map<string, Tensor> | Record<string, Tensor>): Map<string, Tensor> {
  return tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
}

/** The length prefix plus the space-padded header JSON, and the tensors in the order their bytes follow. */
function encodeHeader(
  tensors: Map<string, Tensor>,
  metadata?: Record<string, string>,
): { head: Uint8Array; ordered: [string, Tensor][] } {
  for (const [name, t] of tensors) checkTensor(name, t);
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string')
      throw new Error(
        `metadata '${k}': safetensors metadata values must be strings, got ${typeof v}; JSON.stringify it`,
      );
  }
  const ordered = layout(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of ordered) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8); // pad so the data area starts 8-byte aligned
  const body = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + body.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(body.length), true);
  head.set(body, 8);
  return { head, ordered };
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The whole file as bytes (for small checkpoints, tests, or sending elsewhere). */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  assertLittleEndian();
  const { head, ordered } = encodeHeader(toMap(tensors), metadata);
  const total = head.length + ordered.reduce((s, [, t]) => s + t.data.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let at = head.length;
  for (const [, t] of ordered) {
    out.set(bytesOf(t), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Writes tensors to `path` atomically (temp file, fsync, rename), streaming each tensor's bytes. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  assertLittleEndian();
  const { head, ordered } = encodeHeader(toMap(tensors), metadata);
  atomicWrite(path, (fd) => {
    writeAll(fd, head);
    for (const [, t] of ordered) writeAll(fd, bytesOf(t));
  });
}
