// Which student layer learns from which teacher layer.
//
// Layers are numbered as the models' `hidden` arrays index them: 0 is the embedding output
// (hidden[0]), i ≥ 1 is the output of block i (hidden[i], 1-based; its attention map and values
// sit at attentions[i − 1] and values[i − 1]). Layer 0 exists only for hidden states.
//   uniform: student block s ↔ teacher block round(s·Lt/Ls), s = 1..Ls (in 0-based block indices,
//            i ↔ round((i+1)·Lt/Ls) − 1), as TinyBERT's g(m) = m·Lt/Ls; the last blocks always pair.
//            Math.round rounds halves up. With includeEmbeddings, (0, 0) is paired first.
//   last-k:  the last k blocks of each, in order: (Ls−k+j, Lt−k+j) for j = 1..k.
//   pairs:   explicit [student, teacher] layer numbers.
import { z } from 'zod';

export const layerMapSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('uniform'),
    /** Also pair the embedding outputs (hidden[0]), as TinyBERT's embedding-layer loss does. */
    includeEmbeddings: z.boolean().default(false),
  }),
  z.object({ kind: z.literal('last-k'), k: z.number().int().positive().default(1) }),
  z.object({
    kind: z.literal('pairs'),
    /** [student layer, teacher layer], numbered as above. */
    pairs: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])).min(1),
  }),
]);
export type LayerMap = z.output<typeof layerMapSchema>;
export type LayerMapInput = z.input<typeof layerMapSchema>;

/** [student layer, teacher layer] */
export type LayerPair = readonly [number, number];

/** The layer pairs a map gives for Ls student and Lt teacher blocks; `allowEmbeddings` is false for attention-side losses. */
export function layerPairs(mapInput: LayerMapInput, ls: number, lt: number, allowEmbeddings = true): LayerPair[] {
  const map = layerMapSchema.parse(mapInput);
  let pairs: LayerPair[];
  switch (map.kind) {
    case 'uniform':
      pairs = Array.from({ length: ls }, (_, i): LayerPair => [i + 1, Math.max(1, Math.round(((i + 1) * lt) / ls))]);
      if (map.includeEmbeddings) pairs.unshift([0, 0]);
      break;
    case 'last-k':
      if (map.k > Math.min(ls, lt))
        throw new Error(
          `layer map last-k: k = ${map.k} but the student has ${ls} blocks and the teacher ${lt}; use k ≤ ${Math.min(ls, lt)}`,
        );
      pairs = Array.from({ length: map.k }, (_, j): LayerPair => [ls - map.k + j + 1, lt - map.k + j + 1]);
      break;
    case 'pairs':
      pairs = map.pairs.map(([s, t]): LayerPair => [s, t]);
      break;
  }
  for (const [s, t] of pairs) {
    if (s > ls || t > lt)
      throw new Error(
        `layer map: pair [${s}, ${t}] is out of range: the student has layers 0..${ls}, the teacher 0..${lt} (0 = embeddings)`,
      );
    if (!allowEmbeddings && (s === 0 || t === 0)) {
      throw new Error(
        `layer map: pair [${s}, ${t}] names layer 0 (the embeddings), which has no attention; number blocks from 1`,
      );
    }
  }
  return pairs;
}

/** Per-pair weights: the given ones (checked against the pair count), else all 1. */
export function pairWeights(
  weights: readonly number[] | undefined,
  pairs: readonly LayerPair[],
  who: string,
): number[] {
  if (!weights) return pairs.map(() => 1);
  if (weights.length !== pairs.length) {
    throw new Error(
      `${who}: ${weights.length} layer weights for ${pairs.length} layer pairs (${pairs.map(([s, t]) => `${s}↔${t}`).join(', ')}); give one weight per pair`,
    );
  }
  if (!weights.some((w) => w > 0))
    throw new Error(`${who}: every layer weight is 0; give at least one positive weight`);
  return [...weights];
}

export const layerWeightsField = z.array(z.number().nonnegative()).optional();
