// What every decoder model returns and accepts, whatever its family.
import type { Tensor } from '../graph/index.ts';

export interface KvPair {
  key: Tensor; // (B, Hkv, S, hs)
  value: Tensor; // (B, Hkv, S, hs)
}

export interface ForwardOptions {
  /** Cached keys and values per layer from earlier positions (generation with a KV cache). */
  past?: KvPair[];
  /** (T) or (B, T) int64 positions; default offset..offset+T-1 with offset = cached length. */
  positionIds?: Tensor;
  /** Bool keep-mask over keys, broadcastable to (B, H, T, S) (padding). */
  keep?: Tensor;
  /** Training mode turns dropout on. */
  train?: boolean;
}

export interface DecoderOutput {
  logits: Tensor; // (B, T, V)
  /** hidden[0] is the embedding output; hidden[i] the output of block i (B, T, C). */
  hidden: Tensor[];
  /** Attention probabilities of each layer (B, H, T, S). */
  attentions: Tensor[];
  /** Keys and values of every layer including this call's positions. */
  present: KvPair[];
  /** The final normalized hidden state (B, T, C), the input of the LM head. */
  final: Tensor;
  /** The LM head as weights, logits = final · weightᵀ (+ bias): what lets a loss compute logits a chunk of positions at a time. */
  head?: LmHead;
}

export interface LmHead {
  /** lm_head.weight, or the token embedding when tied: (V, C), or (C, V) when `layout` is 'in_out'. */
  weight: Tensor;
  /** (V) */
  bias?: Tensor;
  layout: 'out_in' | 'in_out';
}

/** What every decoder family's model offers; generation, teachers and distillation see only this. */
export interface DecoderModel {
  readonly config: {
    vocabSize: number;
    dModel: number;
    nLayers: number;
    nHeads: number;
    /** Longest sequence the model supports (learned position tables); absent means unbounded. */
    maxPositions?: number;
    /** One id, or several (Llama 3 ends turns with more than one). */
    eosTokenId?: number | number[];
    tieWordEmbeddings?: boolean;
  };
  /** Parameters by Hugging Face name. */
  readonly params: Map<string, Tensor>;
  forward(ids: Tensor, o?: ForwardOptions): DecoderOutput;
  paramCount(): number;
}
