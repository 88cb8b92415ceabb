// The GGUF container (ggml's docs/gguf.md, version 3): little-endian; "GGUF", the version, the tensor
// and metadata counts; typed key/value metadata; one info record per tensor (name, dims with the
// fastest-varying first, ggml type, offset into the data section); then the tensor data, each
// tensor aligned to general.alignment (32) bytes. Encoded into one buffer, which export.ts writes
// atomically, so no half-written file is ever left at the path.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** Metadata value types, as numbered by the format. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** A metadata value with its wire type: numbers and strings say which they are, arrays hold one type. */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'i32s'; value: readonly number[] }
  | { type: 'f32s'; value: readonly number[] };

export const u32 = (value: number): GgufValue => ({ type: 'u32', value });
export const i32 = (value: number): GgufValue => ({ type: 'i32', value });
export const f32 = (value: number): GgufValue => ({ type: 'f32', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });

export interface GgufTensor {
  name: string;
  /** Dimensions fastest-varying first (a (rows, cols) row-major matrix is [cols, rows]). */
  dims: readonly number[];
  /** ggml type id (GGML_TYPES). */
  ggmlType: number;
  data: Uint8Array;
}

/** Appends little-endian values to a growing byte list; `bytes()` joins them. */
class Bytes {
  private parts: Uint8Array[] = [];
  length = 0;

  raw(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.byteLength;
  }

  private num(size: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.raw(b);
  }

  u32(v: number): void {
    this.num(4, (d) => d.setUint32(0, v, true));
  }
  i32(v: number): void {
    this.num(4, (d) => d.setInt32(0, v, true));
  }
  f32(v: number): void {
    this.num(4, (d) => d.setFloat32(0, v, true));
  }
  u64(v: number): void {
    this.num(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }
  u8(v: number): void {
    this.raw(Uint8Array.of(v));
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.raw(b);
  }
  pad(to: number): void {
    const n = (to - (this.length % to)) % to;
    if (n) this.raw(new Uint8Array(n));
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

function writeValue(b: Bytes, v: GgufValue): void {
  const T = GgufValueType;
  const array = (type: number, n: number, each: (i: number) => void) => {
    b.u32(T.ARRAY);
    b.u32(type);
    b.u64(n);
    for (let i = 0; i < n; i++) each(i);
  };
  switch (v.type) {
    case 'u32':
      b.u32(T.UINT32);
      b.u32(v.value);
      return;
    case 'i32':
      b.u32(T.INT32);
      b.i32(v.value);
      return;
    case 'f32':
      b.u32(T.FLOAT32);
      b.f32(v.value);
      return;
    case 'bool':
      b.u32(T.BOOL);
      b.u8(v.value ? 1 : 0);
      return;
    case 'string':
      b.u32(T.STRING);
      b.string(v.value);
      return;
    case 'strings':
      array(T.STRING, v.value.length, (i) => b.string(v.value[i]!));
      return;
    case 'i32s':
      array(T.INT32, v.value.length, (i) => b.i32(v.value[i]!));
      return;
    case 'f32s':
      array(T.FLOAT32, v.value.length, (i) => b.f32(v.value[i]!));
      return;
  }
}

/** The whole file as bytes: header, metadata, tensor infos, aligned tensor data. */
export function encodeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Uint8Array {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF: tensor '${t.name}' is written twice`);
    names.add(t.name);
  }
  const b = new Bytes();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.size + 1);
  b.string('general.alignment');
  writeValue(b, u32(GGUF_ALIGNMENT));
  for (const [k, v] of metadata) {
    b.string(k);
    writeValue(b, v);
  }
  let offset = 0;
  const offsets = tensors.map((t) => {
    const at = offset;
    offset += Math.ceil(t.data.byteLength / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
    return at;
  });
  tensors.forEach((t, i) => {
    b.string(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.ggmlType);
    b.u64(offsets[i]!);
  });
  b.pad(GGUF_ALIGNMENT);
  for (const t of tensors) {
    b.raw(t.data);
    b.pad(GGUF_ALIGNMENT);
  }
  return b.bytes();
}
