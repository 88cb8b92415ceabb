// Parses and validates a safetensors header before any tensor byte is trusted.
// Layout (https://github.com/huggingface/safetensors): u64 little-endian N, then N bytes of UTF-8 JSON
// { "__metadata__"?: {str: str}, name: {dtype, shape, data_offsets: [begin, end]} }, then the data area.
// Offsets are relative to the data area. The checks mirror the reference reader (tensor.rs): header
// under 100 MB and inside the file, tensors contiguous from 0, each exactly prod(shape)*size bytes,
// and the last one ending exactly at the end of the file. Each refusal says which tensor and how to fix it.
import { DTYPES, isSafetensorsDType, numElements, type SafetensorsDType } from './dtypes.ts';

export const MAX_HEADER_BYTES = 100_000_000;

export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range inside the data area, [begin, end). */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Bytes before the data area: 8 + N. */
  dataStart: number;
  /** Entries sorted by their offset in the data area. */
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

const CORRUPT = 'the file is truncated or corrupt — download or write it again';

/** Reads the 8-byte prefix and checks the header length against the file size. Returns N. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new Error(
      `${file}: the file is ${fileSize} bytes, shorter than the 8-byte header length that starts every safetensors file; ${CORRUPT}`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${file}: header length is ${n} bytes, over the 100 MB limit safetensors allows; this is not a safetensors file (a PyTorch .bin or a Git LFS pointer?) or it is corrupt`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new Error(
      `${file}: header claims ${len} bytes but only ${fileSize - 8} follow the length prefix; ${CORRUPT}`,
    );
  }
  return len;
}

/** Validates the header JSON against the size of the data area that follows it. */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): ParsedHeader {
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new Error(`${file}: header is not valid UTF-8 JSON (${(err as Error).message}); ${CORRUPT}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(
      `${file}: header must be a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}; ${CORRUPT}`,
    );
  }
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(info, file);
    else entries.push(parseEntry(name, info, file));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkLayout(entries, dataSize, file);
  return { dataStart, entries, metadata };
}

function parseMetadata(info: unknown, file: string): Record<string, string> {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    throw new Error(`${file}: "__metadata__" must be an object of strings, got ${JSON.stringify(info)}; ${CORRUPT}`);
  }
  for (const [k, v] of Object.entries(info)) {
    if (typeof v !== 'string') {
      throw new Error(
        `${file}: "__metadata__" value '${k}' must be a string, got ${JSON.stringify(v)} (the reference reader refuses this too)`,
      );
    }
  }
  return { ...(info as Record<string, string>) };
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function parseEntry(name: string, info: unknown, file: string): HeaderEntry {
  const where = `${file}: tensor '${name}'`;
  if (info === null || typeof info !== 'object')
    throw new Error(`${where} has no {dtype, shape, data_offsets} entry; ${CORRUPT}`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (!isSafetensorsDType(dtype)) {
    const known = Object.keys(DTYPES).join(', ');
    throw new Error(
      `${where} has dtype ${JSON.stringify(dtype)}, which Retort does not read (it reads ${known}); convert the checkpoint to one of those`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new Error(
      `${where} has shape ${JSON.stringify(shape)}; expected an array of non-negative integers; ${CORRUPT}`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new Error(
      `${where} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end; ${CORRUPT}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const need = numElements(shape) * DTYPES[dtype].size;
  if (end - begin !== need) {
    throw new Error(
      `${where} (${dtype}, shape [${shape.join(', ')}]) needs ${need} bytes but its data_offsets ${begin}..${end} span ${end - begin}; ${CORRUPT}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Tensors must tile the data area exactly: in order, no overlap, no gap, nothing after the last one. */
function checkLayout(entries: HeaderEntry[], dataSize: number, file: string): void {
  let expected = 0;
  let previous: HeaderEntry | undefined;
  for (const e of entries) {
    const where = `${file}: tensor '${e.name}'`;
    if (e.end > dataSize) {
      throw new Error(
        `${where} claims bytes ${e.begin}..${e.end} but the file's data area is only ${dataSize} bytes; ${CORRUPT}`,
      );
    }
    if (e.begin < expected) {
      throw new Error(
        `${where} claims bytes ${e.begin}..${e.end}, which overlap tensor '${previous!.name}' (bytes ${previous!.begin}..${previous!.end}); ${CORRUPT}`,
      );
    }
    if (e.begin > expected) {
      throw new Error(
        `${where} starts at byte ${e.begin}, leaving a gap after byte ${expected} that no tensor covers; ${CORRUPT}`,
      );
    }
    expected = e.end;
    previous = e;
  }
  if (expected !== dataSize) {
    throw new Error(
      `${file}: tensors cover ${expected} bytes of the data area but the file has ${dataSize}; trailing bytes mean ${CORRUPT}`,
    );
  }
}
