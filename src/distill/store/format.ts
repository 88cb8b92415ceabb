// The offline teacher store's on-disk format (documented in FORMAT.md beside this file).
//
// A store is a folder:
//   manifest.json      identity (teacher fingerprint, tokenizer, dataset), layout, committed count
//   records.bin        append-only records, one per example, in example order
// A record: 16-byte header [magic u32 'RTK1', example index u32, payload bytes u32, crc32 u32]
// then the payload: top-k ids (T·k int32), top-k log-probs (T·k float32), then each stored hidden
// layer (T·C float32). All little-endian. The manifest names how many records are committed;
// bytes past them (a write the process did not finish) are cut off when the store is reopened.
import { z } from 'zod';

export const RECORD_MAGIC = 0x314b5452; // 'RTK1' read as little-endian u32
export const HEADER_BYTES = 16;

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
  /** Top-k entries kept per position. */
  topK: z.number().int().positive(),
  /** Teacher hidden-state indices stored (0 = embeddings), each (T, dModel). */
  hidden: z.array(z.number().int().nonnegative()).default([]),
  dModel: z.number().int().nonnegative().default(0),
  vocabSize: z.number().int().positive(),
});
export type StoreLayout = z.output<typeof layoutSchema>;
export type StoreLayoutInput = z.input<typeof layoutSchema>;

export const manifestSchema = z.object({
  format: z.literal('retort-teacher-store'),
  version: z.literal(1),
  identity: identitySchema,
  layout: layoutSchema,
  /** Records committed to records.bin (each is example index = its position). */
  count: z.number().int().nonnegative(),
  /** Total examples the store is meant to hold, when known; complete when count reaches it. */
  total: z.number().int().positive().optional(),
  /** Shard i of n, for stores written by split labelling runs. */
  shard: z.object({ index: z.number().int().nonnegative(), of: z.number().int().positive() }).optional(),
});
export type StoreManifest = z.infer<typeof manifestSchema>;

export function payloadBytes(l: StoreLayout): number {
  return l.seq * l.topK * 8 + l.hidden.length * l.seq * l.dModel * 4;
}

export const recordBytes = (l: StoreLayout): number => HEADER_BYTES + payloadBytes(l);
