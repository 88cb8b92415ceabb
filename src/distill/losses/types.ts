// The seam between distillation losses and whatever produced the tensors (a local teacher, a
// cached top-k store, an HTTP API). Losses read a DistillBatch and return scalars; they never see
// how the teacher ran.
import type { Tensor } from '../../graph/index.ts';
import type { DecoderModel, DecoderOutput, LmHead } from '../../models/types.ts';

/** The losses in the table of rules.ts, one row each. */
export type LossKind = 'logits' | 'topk' | 'hidden' | 'attention' | 'valueRelation';

/** What one model exposes to the losses for one batch. Each loss names the fields it needs. */
export interface ModelOutputs {
  /** (B, T, V) for causal LMs, (B, C) for classifiers. */
  logits?: Tensor;
  /** hidden[0] is the embedding output, hidden[i] the output of block i: (B, T, C) each. */
  hidden?: readonly Tensor[];
  /** Attention probabilities of block i at [i − 1]: (B, H, T, S) each. */
  attentions?: readonly Tensor[];
  /** Value vectors of block i at [i − 1]: (B, Hkv, T, hs) each (DecoderOutput.present[i].value). */
  values?: readonly Tensor[];
  /** The LM head's input (B, T, C) and weights: logits computed a chunk of positions at a time (losses/chunked.ts). */
  head?: LmHead & { final: Tensor };
}

/** A teacher given as its k most likely tokens per position (a cached store, an OpenAI-style API). */
export interface SparseTargets {
  /** (B, T, k) int64 token ids, each in [0, V). */
  ids: Tensor;
  /** (B, T, k) log-probabilities of those ids at temperature 1 over the full vocabulary. */
  logprobs: Tensor;
  /** (B, T, 1) log of the teacher's mass outside the k ids, where known (a compact store's tail). */
  tail?: Tensor;
  /**
   * 'sampled': the k entries are tokens drawn from the teacher with log(count / draws) as their
   * log-probs (an unbiased estimate of its distribution at temperature 1). Default 'topk'.
   */
  targets?: 'topk' | 'sampled';
}

export interface DistillBatch {
  student: ModelOutputs;
  teacher: ModelOutputs & { topk?: SparseTargets };
  /** (B, T) or (B) int64 hard labels aligned with the logits (already shifted); ignoreIndex marks skipped positions. */
  labels?: Tensor;
  /** (B, T) keep-mask of real positions (bool, or numbers where nonzero keeps): a padded batch's attention_mask. */
  mask?: Tensor;
}

export interface LossOutput {
  /** The scalar this loss adds to the objective. */
  loss: Tensor;
  /** Its components (scalars) for metrics, e.g. `kd` and `ce`. */
  parts: Record<string, Tensor>;
}

/** A configured loss: what distillation strategies see. */
export interface DistillLoss {
  readonly kind: LossKind;
  /** Trainable parameters the loss owns (hidden-state projections), by name; they train with the student. */
  readonly params: ReadonlyMap<string, Tensor>;
  forward(batch: DistillBatch): LossOutput;
}

export interface ModelDims {
  /** Number of transformer blocks (hidden has layers + 1 entries). */
  layers: number;
  /** Width of the hidden states. */
  hidden: number;
}

/** Sizes the losses that own parameters need at construction. */
export interface LossDims {
  student: ModelDims;
  teacher: ModelDims;
  /** Parameter dtype of the losses' own parameters. Default float32. */
  dtype?: 'float32' | 'float64';
}

/** A decoder's outputs as the losses read them (present[i].value are the value vectors). */
export function fromDecoder(out: DecoderOutput): ModelOutputs {
  return {
    logits: out.logits,
    hidden: out.hidden,
    attentions: out.attentions,
    values: out.present.map((kv) => kv.value),
    head: out.head ? { ...out.head, final: out.final } : undefined,
  };
}

/** The named field of a batch, or an error saying which loss needed it and what to pass. */
export function need<T>(value: T | undefined, loss: string, field: string, hint: string): T {
  if (value === undefined) throw new Error(`${loss}: batch.${field} is missing; ${hint}`);
  return value;
}

/** LossDims from two decoder models' configs (blocks and width). */
export function lossDimsOf(student: DecoderModel, teacher: DecoderModel, dtype?: 'float32' | 'float64'): LossDims {
  const dims = (m: DecoderModel): ModelDims => ({ layers: m.config.nLayers, hidden: m.config.dModel });
  return { student: dims(student), teacher: dims(teacher), ...(dtype ? { dtype } : {}) };
}
