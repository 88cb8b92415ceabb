// Reads and writes safetensors files, the format Hugging Face checkpoints ship in.
// Reading validates the whole header first (safetensors-header.ts), then reads each tensor into its own
// aligned buffer: no 2 GiB whole-file limit, and no tensor aliases another's memory.
// Writing matches the reference writer byte for byte and replaces the file atomically.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { atomicWrite, writeAll } from './atomic-write.ts';
import { DTYPES, isSafetensorsDType, numElements, type DTypeArrays, type SafetensorsDType } from './dtypes.ts';
import { headerLength, parseHeader } from './safetensors-header.ts';

export { toFloat32, fromFloat32 } from './float16.ts';
export type { SafetensorsDType, TensorData } from './dtypes.ts';

/** One tensor: its dtype decides the array type (F16/BF16 hold raw 16-bit patterns; see toFloat32). */
export type Tensor = { [D in SafetensorsDType]: { dtype: D; shape: number[]; data: DTypeArrays[D] } }[SafetensorsDType];

export interface SafetensorsFile {
  /** In file order (by data offset). */
  tensors: Map<string, Tensor>;
  /** The header's "__metadata__" (e.g. {format: 'pt'}); {} when absent. */
  metadata: Record<string, string>;
}

/** Random access to the bytes of a file or buffer; each read returns a fresh, 8-byte-aligned copy. */
interface ByteSource {
  size: number;
  read(offset: number, length: number): Uint8Array;
}

function assertLittleEndian(): void {
  // Typed-array views use the host's byte order; safetensors is little-endian.
  if (endianness() !== 'LE')
    throw new Error('safetensors: this host is big-endian; Retort reads safetensors only on little-endian hosts');
}

/** Reads a .safetensors file, or the bytes of one (`name` then labels errors). */
export function readSafetensors(source: string | Uint8Array, options: { name?: string } = {}): SafetensorsFile {
  assertLittleEndian();
  if (typeof source !== 'string') return readFrom(bufferSource(source), options.name ?? '<buffer>');
  const fd = openSync(source, 'r');
  try {
    return readFrom(fileSource(fd), options.name ?? source);
  } finally {
    closeSync(fd);
  }
}

function readFrom(src: ByteSource, file: string): SafetensorsFile {
  const n = headerLength(src.read(0, Math.min(8, src.size)), src.size, file);
  const header = parseHeader(src.read(8, n), src.size, file);
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const bytes = src.read(header.dataStart + e.begin, e.end - e.begin);
    const data = DTYPES[e.dtype].view(bytes.buffer as ArrayBuffer, 0, numElements(e.shape));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data } as Tensor);
  }
  return { tensors, metadata: header.metadata };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.slice(offset, offset + length) };
}

function fileSource(fd: number): ByteSource {
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      const chunk = 1 << 30; // a single readSync is limited to 2 GiB
      let done = 0;
      while (done < length) {
        const got = readSync(fd, out, done, Math.min(chunk, length - done), offset + done);
        if (got === 0)
          throw new Error(
            `safetensors: file ended at byte ${offset + done} while reading; it changed while being read`,
          );
        done += got;
      }
      return out;
    },
  };
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
