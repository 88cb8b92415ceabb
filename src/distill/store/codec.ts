// Record payloads, one row per encoding (FORMAT.md has the byte tables). A row knows its payload
// size for a layout and turns a StoreRecord into payload bytes and back; the writer and reader
// handle headers, checksums and file offsets and never look inside a payload.
//
// 'compact' is the default for new stores. At k = 20 and V = 151,936 (18-bit ids) a position costs
// 20·2 (fp16 log-probs) + 2 (fp16 tail) + 20·18/8 (ids) = 87 bytes, against 168 for 'f32'.
// fp16 keeps a log-prob to 2^-11 of its magnitude (about 0.05%); the tail is stored directly, so
// the rest-of-vocabulary mass does not come from subtracting rounded probabilities from 1.
import { f16BitsToFloat32, float32ToF16Bits } from '../../models/checkpoint/float16.ts';
import { packedBytes, packIds, unpackIds } from './bitpack.ts';
import { HEADER_BYTES, idBits, type StoreEncoding, type StoreLayout } from './format.ts';

export interface StoreRecord {
  ids: Int32Array; // (T·k), each in [0, V)
  logprobs: Float32Array; // (T·k): log-probs (targets 'topk') or log-weights (targets 'sampled')
  /** (T): log of the target mass outside the position's k entries; compact records carry it. */
  tail?: Float32Array;
  hidden: Float32Array[]; // each (T·C)
}

/** fp16's largest finite magnitude: log-probs below −65504 (or −∞) are stored as −65504, whose exp is 0. */
export const F16_MAX = 65504;

export interface EncodingRow {
  /** Payload bytes of one record. */
  payloadBytes(l: StoreLayout): number;
  /** Whether records carry the tail mass (StoreRecord.tail). */
  tail: boolean;
  /** Writes rec into `into` (exactly payloadBytes long; byteOffset a multiple of 4). */
  encode(rec: StoreRecord, l: StoreLayout, into: Uint8Array): void;
  /** Reads a payload (byteOffset a multiple of 4); arrays may be views into it. */
  decode(payload: Uint8Array, l: StoreLayout): StoreRecord;
}

const entries = (l: StoreLayout) => l.seq * l.topK;
const hiddenBytes = (l: StoreLayout) => l.hidden.length * l.seq * l.dModel * 4;
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Compact: fp16 log-probs, fp16 tails, then the packed ids padded so the hidden states start 4-aligned. */
function compactSections(l: StoreLayout) {
  const n = entries(l);
  const lp = n * 2,
    tail = l.seq * 2;
  const ids = packedBytes(n, idBits(l.vocabSize));
  const pad = (4 - ((lp + tail + ids) % 4)) % 4;
  return { lp: 0, tail: lp, ids: lp + tail, hidden: lp + tail + ids + pad };
}

const toF16 = (xs: Float32Array) =>
  float32ToF16Bits(Float32Array.from(xs, (v) => Math.max(-F16_MAX, Math.min(F16_MAX, v))));

function writeHidden(rec: StoreRecord, into: Uint8Array, at: number): void {
  for (const h of rec.hidden) {
    into.set(bytesOf(h), at);
    at += h.byteLength;
  }
}

function readHidden(payload: Uint8Array, l: StoreLayout, at: number): Float32Array[] {
  const c = l.seq * l.dModel;
  return l.hidden.map((_, h) => new Float32Array(payload.buffer, payload.byteOffset + at + h * c * 4, c));
}

export const encodings = {
  // Version 1's records: int32 ids, float32 log-probs, no tail.
  f32: {
    payloadBytes: (l) => entries(l) * 8 + hiddenBytes(l),
    tail: false,
    encode(rec, l, into) {
      into.set(bytesOf(rec.ids), 0);
      into.set(bytesOf(rec.logprobs), entries(l) * 4);
      writeHidden(rec, into, entries(l) * 8);
    },
    decode(payload, l) {
      const n = entries(l),
        at = payload.byteOffset;
      return {
        ids: new Int32Array(payload.buffer, at, n),
        logprobs: new Float32Array(payload.buffer, at + n * 4, n),
        hidden: readHidden(payload, l, n * 8),
      };
    },
  },
  compact: {
    payloadBytes: (l) => compactSections(l).hidden + hiddenBytes(l),
    tail: true,
    encode(rec, l, into) {
      const s = compactSections(l);
      const v = l.vocabSize;
      if (!rec.tail || rec.tail.length !== l.seq)
        throw new RangeError(
          `compact records carry each position's tail mass: expected tail of ${l.seq} values, got ${rec.tail?.length ?? 'none'}`,
        );
      const bad = rec.ids.findIndex((id) => id < 0 || id >= v);
      if (bad >= 0)
        throw new RangeError(`token id ${rec.ids[bad]} at entry ${bad} is outside the vocabulary 0..${v - 1}`);
      into.set(bytesOf(toF16(rec.logprobs)), s.lp);
      into.set(bytesOf(toF16(rec.tail)), s.tail);
      packIds(rec.ids, idBits(v), into.subarray(s.ids, s.hidden));
      writeHidden(rec, into, s.hidden);
    },
    decode(payload, l) {
      const s = compactSections(l);
      const n = entries(l),
        at = payload.byteOffset;
      return {
        ids: unpackIds(payload.subarray(s.ids, s.hidden), idBits(l.vocabSize), n),
        logprobs: f16BitsToFloat32(new Uint16Array(payload.buffer, at + s.lp, n)),
        tail: f16BitsToFloat32(new Uint16Array(payload.buffer, at + s.tail, l.seq)),
        hidden: readHidden(payload, l, s.hidden),
      };
    },
  },
} satisfies Record<StoreEncoding, EncodingRow>;

export const payloadBytes = (l: StoreLayout): number => encodings[l.encoding].payloadBytes(l);
export const recordBytes = (l: StoreLayout): number => HEADER_BYTES + payloadBytes(l);
/** Record bytes per token, header and hidden states included: what a store costs on disk. */
export const bytesPerToken = (l: StoreLayout): number => recordBytes(l) / l.seq;
