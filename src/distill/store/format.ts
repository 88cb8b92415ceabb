// The offline teacher store's on-disk format (documented in FORMAT.md beside this file).
//
// A store is a folder:
//   manifest.json      identity (teacher fingerprint, tokenizer, dataset), layout, committed count
//   records.bin        append-only records, one per example, in example order, all of one size
// A record: 16-byte header [magic u32 'RTK1', example index u32, payload bytes u32, crc32 u32]
// then the payload, laid out by `layout.encoding` (the rows of codec.ts). The manifest names how
// many records are committed; bytes past them (a write the process did not finish) are cut off
// when the store is reopened.
import { z } from 'zod';

export const RECORD_MAGIC = 0x314b5452; // 'RTK1' read as little-endian u32
export const HEADER_BYTES = 16;
/** The manifest version new stores are written with; version 1 (f32 top-k only) is still read. */
export const STORE_VERSION = 2;

/** How a record's top-k entries are laid out: one row each in codec.ts's table. */
export const storeEncodings = ['compact', 'f32'] as const;
export type StoreEncoding = (typeof storeEncodings)[number];

/** What a position's entries are: the teacher's most likely tokens, or tokens drawn from it. */
export const targetKinds = ['topk', 'sampled'] as const;
export type TargetKind = (typeof targetKinds)[number];

export const identitySchema = z.object({
  /** Teacher.fingerprint: weights (and tokenizer) that produced the outputs. */
  teacher: z.string().min(1),
  /** Hash of the tokenizer's vocabulary, so ids mean the same tokens. */
  tokenizer: z.string().min(1),
  /** Hash of the token stream and windowing the examples were cut from. */
  dataset: z.string().min(1),
});
export type StoreIdentity = z.infer<typeof identitySchema>;

export const layoutSchema = z.object({
  /** Tokens per example. */
  seq: z.number().int().positive(),
  /** Entries kept per position: the top k for targets 'topk', the number of draws for 'sampled'. */
  topK: z.number().int().positive(),
  /** Teacher hidden-state indices stored (0 = embeddings), each (T, dModel). */
  hidden: z.array(z.number().int().nonnegative()).default([]),
  dModel: z.number().int().nonnegative().default(0),
  vocabSize: z.number().int().positive(),
  /** Record encoding (codec.ts): 'compact' packs ids in ceil(log2 V) bits and keeps fp16 log-probs and the tail mass. */
  encoding: z.enum(storeEncodings).default('compact'),
  /** 'topk': the k most likely tokens and their log-probs; 'sampled': distinct drawn tokens and log(count / draws). */
  targets: z.enum(targetKinds).default('topk'),
  /** The draws' seed, for targets 'sampled' (each example and position has its own stream from it). */
  seed: z.number().int().nonnegative().optional(),
});
export type StoreLayout = z.output<typeof layoutSchema>;
export type StoreLayoutInput = z.input<typeof layoutSchema>;

export const manifestSchema = z.object({
  format: z.literal('retort-teacher-store'),
  version: z.union([z.literal(1), z.literal(STORE_VERSION)]),
  identity: identitySchema,
  layout: layoutSchema,
  /** Records committed to records.bin (each is example index = its position). */
  count: z.number().int().nonnegative(),
  /** Total examples the store is meant to hold, when known; complete when count reaches it. */
  total: z.number().int().positive().optional(),
  /** Shard i of n, for stores written by split labelling runs. */
  shard: z.object({ index: z.number().int().nonnegative(), of: z.number().int().positive() }).optional(),
  /** Record bytes per token (header and hidden states included): informational, derived from the layout. */
  bytesPerToken: z.number().positive().optional(),
});
export type StoreManifest = z.infer<typeof manifestSchema>;

/**
 * Version 1 manifests predate layout.encoding and layout.targets: every version 1 store holds f32
 * top-k records. Filled in before validation, so the layout's defaults (compact) never apply to them.
 */
export function upgradeManifest(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const m = raw as { version?: unknown; layout?: unknown };
  if (m.version !== 1 || typeof m.layout !== 'object' || m.layout === null) return raw;
  return { ...m, layout: { encoding: 'f32', targets: 'topk', ...m.layout } };
}

/** Bits per packed token id: ceil(log2 V), at least 1 (V = 151,936 → 18; V = 2^18 → 18; 2^18 + 1 → 19). */
export function idBits(vocabSize: number): number {
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > 2 ** 31)
    throw new RangeError(`idBits: vocabSize must be an integer in 1..2^31, got ${vocabSize}`);
  return vocabSize <= 2 ? 1 : 32 - Math.clz32(vocabSize - 1);
}
