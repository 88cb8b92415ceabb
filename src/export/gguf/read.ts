// Reads a GGUF file back: header, metadata and tensor infos, and a tensor's values dequantized.
// For checking what export wrote (tests, size reports); refuses a file that is not GGUF v3 or is
// cut short, naming the file and what was wrong.
import { readFileSync } from 'node:fs';
import { GGUF_ALIGNMENT, GGUF_MAGIC, GgufValueType } from './format.ts';
import { GGML_TYPE_BY_ID, GGML_TYPES } from './quant.ts';

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: string;
  offset: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, unknown>;
  tensors: GgufTensorInfo[];
  /** Dequantized values of a tensor (fastest dimension first, as stored). */
  values(name: string): Float32Array;
}

export function readGguf(path: string): GgufFile {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > buf.byteLength)
      throw new Error(
        `${path}: ends at byte ${buf.byteLength}, inside the header (needed ${at + n}); the file is truncated`,
      );
  };
  const u32 = () => (need(4), (at += 4), view.getUint32(at - 4, true));
  const u64 = () => (need(8), (at += 8), Number(view.getBigUint64(at - 8, true)));
  const string = () => {
    const n = u64();
    need(n);
    at += n;
    return new TextDecoder().decode(buf.subarray(at - n, at));
  };
  const T = GgufValueType;
  const scalar = (type: number): unknown => {
    switch (type) {
      case T.UINT8:
        return (need(1), view.getUint8(at++));
      case T.INT8:
        return (need(1), view.getInt8(at++));
      case T.UINT16:
        return (need(2), (at += 2), view.getUint16(at - 2, true));
      case T.INT16:
        return (need(2), (at += 2), view.getInt16(at - 2, true));
      case T.UINT32:
        return u32();
      case T.INT32:
        return (need(4), (at += 4), view.getInt32(at - 4, true));
      case T.FLOAT32:
        return (need(4), (at += 4), view.getFloat32(at - 4, true));
      case T.BOOL:
        return (need(1), view.getUint8(at++) !== 0);
      case T.STRING:
        return string();
      case T.UINT64:
        return u64();
      case T.INT64:
        return (need(8), (at += 8), Number(view.getBigInt64(at - 8, true)));
      case T.FLOAT64:
        return (need(8), (at += 8), view.getFloat64(at - 8, true));
      case T.ARRAY: {
        const inner = u32();
        const n = u64();
        return Array.from({ length: n }, () => scalar(inner));
      }
      default:
        throw new Error(`${path}: unknown metadata value type ${type} at byte ${at - 4}`);
    }
  };
  if (u32() !== GGUF_MAGIC) throw new Error(`${path}: not a GGUF file (no "GGUF" magic)`);
  const version = u32();
  if (version !== 3) throw new Error(`${path}: GGUF version ${version}; this reader reads version 3`);
  const nTensors = u64();
  const nMeta = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < nMeta; i++) {
    const key = string();
    metadata.set(key, scalar(u32()));
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = string();
    const dims = Array.from({ length: u32() }, () => u64());
    const id = u32();
    const type = GGML_TYPE_BY_ID.get(id);
    if (!type) throw new Error(`${path}: tensor '${name}' has ggml type ${id}, which this reader does not decode`);
    tensors.push({ name, dims, type, offset: u64() });
  }
  const alignment = Number(metadata.get('general.alignment') ?? GGUF_ALIGNMENT);
  const dataStart = Math.ceil(at / alignment) * alignment;
  return {
    version,
    metadata,
    tensors,
    values(name) {
      const t = tensors.find((x) => x.name === name);
      if (!t) throw new Error(`${path}: no tensor '${name}'`);
      const n = t.dims.reduce((a, b) => a * b, 1);
      const row = GGML_TYPES[t.type as keyof typeof GGML_TYPES];
      const bytes = (n / row.block) * row.blockBytes;
      const from = dataStart + t.offset;
      if (from + bytes > buf.byteLength)
        throw new Error(`${path}: tensor '${name}' runs past the end of the file; the file is truncated`);
      return row.decode(new Uint8Array(buf.subarray(from, from + bytes)), n);
    },
  };
}
