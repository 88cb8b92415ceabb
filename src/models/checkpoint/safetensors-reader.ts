// Opens a safetensors file and reads its tensors one at a time. Opening reads and validates only the
// header (safetensors-header.ts); each tensor's bytes are then read with positional reads at its offset,
// so a caller can load a checkpoint bigger than the memory its raw bytes and their float32 copies would
// take together. readFloat32 converts a piece at a time straight into the destination array: loading a
// bf16 model peaks at its float32 size plus one small scratch buffer, not 6 bytes a parameter.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { DTYPES, numElements, type DTypeArrays, type SafetensorsDType } from './dtypes.ts';
import { convertInto } from './float16.ts';
import { headerLength, parseHeader, type HeaderEntry } from './safetensors-header.ts';

/** One tensor: its dtype decides the array type (F16/BF16 hold raw 16-bit patterns; see toFloat32). */
export type Tensor = { [D in SafetensorsDType]: { dtype: D; shape: number[]; data: DTypeArrays[D] } }[SafetensorsDType];

/** What the header says about a tensor, before any of its bytes are read. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** The file that holds it, as errors name it. */
  file: string;
}

/** Tensors whose bytes are read on demand; close() when done. */
export interface TensorReader {
  /** By name, in the order their bytes lie (shard by shard for a sharded checkpoint). */
  tensors: ReadonlyMap<string, TensorInfo>;
  /** The header's "__metadata__" (e.g. {format: 'pt'}); {} when absent. */
  metadata: Record<string, string>;
  /** The tensor in its own dtype, in its own 8-byte-aligned buffer. */
  read(name: string): Tensor;
  /** The tensor's elements as float32 (F16/BF16 widened, integers cast), converted a piece at a time. */
  readFloat32(name: string): Float32Array;
  close(): void;
}

/** Random access to the bytes of a file or buffer: `read` fills `into` from `offset`. */
interface ByteSource {
  size: number;
  read(offset: number, into: Uint8Array): void;
  close(): void;
}

/** Bytes converted per step by readFloat32: big enough that the per-read cost vanishes, small next to a tensor. */
const SCRATCH_BYTES = 1 << 22;
/** A single readSync is limited to 2 GiB. */
const MAX_READ = 1 << 30;

export function assertLittleEndian(): void {
  // Typed-array views use the host's byte order; safetensors is little-endian.
  if (endianness() !== 'LE')
    throw new Error('safetensors: this host is big-endian; Retort reads safetensors only on little-endian hosts');
}

/** Opens a .safetensors file, or the bytes of one (`name` then labels errors), and validates its header. */
export function openSafetensors(source: string | Uint8Array, options: { name?: string } = {}): TensorReader {
  assertLittleEndian();
  const file = options.name ?? (typeof source === 'string' ? source : '<buffer>');
  const src = typeof source === 'string' ? fileSource(source) : bufferSource(source);
  try {
    return readerOver(src, file);
  } catch (err) {
    src.close();
    throw err;
  }
}

function readerOver(src: ByteSource, file: string): TensorReader {
  const prefix = new Uint8Array(Math.min(8, src.size));
  src.read(0, prefix);
  const n = headerLength(prefix, src.size, file);
  const headerBytes = new Uint8Array(n);
  src.read(8, headerBytes);
  const header = parseHeader(headerBytes, src.size, file);
  const entries = new Map<string, HeaderEntry>(header.entries.map((e) => [e.name, e]));
  const tensors = new Map<string, TensorInfo>(
    header.entries.map((e) => [e.name, { name: e.name, dtype: e.dtype, shape: e.shape, file }]),
  );
  let scratch: ArrayBuffer | undefined; // shared by every readFloat32 of this file
  const entry = (name: string): HeaderEntry => {
    const e = entries.get(name);
    if (!e)
      throw new Error(
        `${file}: no tensor '${name}' in this file (it has ${entries.size}, e.g. '${[...entries.keys()][0] ?? ''}')`,
      );
    return e;
  };
  // Reads bytes [from, from + into.length) of a tensor's data, naming the file and tensor when that fails.
  const readPart = (e: HeaderEntry, from: number, into: Uint8Array) => {
    try {
      src.read(header.dataStart + e.begin + from, into);
    } catch (err) {
      throw new Error(`${file}: tensor '${e.name}': ${(err as Error).message}`);
    }
  };
  return {
    tensors,
    metadata: header.metadata,
    read(name) {
      const e = entry(name);
      const bytes = new Uint8Array(e.end - e.begin);
      readPart(e, 0, bytes);
      const data = DTYPES[e.dtype].view(bytes.buffer, 0, numElements(e.shape));
      return { dtype: e.dtype, shape: e.shape, data } as Tensor;
    },
    readFloat32(name) {
      const e = entry(name);
      const out = new Float32Array(numElements(e.shape));
      if (e.dtype === 'F32') {
        readPart(e, 0, new Uint8Array(out.buffer));
        return out;
      }
      const size = DTYPES[e.dtype].size;
      scratch ??= new ArrayBuffer(SCRATCH_BYTES);
      const per = SCRATCH_BYTES / size;
      for (let at = 0; at < out.length; at += per) {
        const k = Math.min(per, out.length - at);
        readPart(e, at * size, new Uint8Array(scratch, 0, k * size));
        convertInto({ dtype: e.dtype, data: DTYPES[e.dtype].view(scratch, 0, k) }, out, at);
      }
      return out;
    },
    close: () => src.close(),
  };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, into) {
      if (offset + into.length > bytes.length)
        throw new Error(`the buffer ends at byte ${bytes.length}, before byte ${offset + into.length}`);
      into.set(bytes.subarray(offset, offset + into.length));
    },
    close() {},
  };
}

function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    size,
    read(offset, into) {
      let done = 0;
      while (done < into.length) {
        const got = readSync(fd, into, done, Math.min(MAX_READ, into.length - done), offset + done);
        if (got === 0)
          throw new Error(
            `the file ended at byte ${offset + done}, though it was ${size} bytes when opened; it changed while being read — let the download or save finish, then load it again`,
          );
        done += got;
      }
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
