// A sequence classifier: decoder body → final hidden states → pooled vector → `score` Linear.
// Parameter names are transformers' *ForSequenceClassification names (body names + score.weight).
import {
  cast,
  constant,
  div,
  equal,
  greater,
  logicalNot,
  matmul,
  maximum,
  mul,
  ndarray,
  oneHot,
  reduceMax,
  reduceMean,
  reduceSum,
  reshape,
  slice,
  sub,
  type Tensor,
} from '../../graph/index.ts';
import { Linear, Module } from '../../nn/index.ts';
import { createModel, type DecoderModel } from '../hf/families.ts';
import { classifierConfigSchema, type ClassifierConfig, type ClassifierConfigInput } from './config.ts';

export interface ClassifierForwardOptions {
  /** (B, T) keep-mask, 1 for tokens and 0 for padding: bool, int64 (HF's attention_mask) or float. */
  mask?: Tensor;
  /** Training mode turns the body's dropout on. */
  train?: boolean;
}

export interface ClassifierOutput {
  logits: Tensor; // (B, L)
  /** The vector the head reads (B, C). */
  pooled: Tensor;
  /** The body's hidden states: [embeddings, block 1, ..., block N] (B, T, C). */
  hidden: Tensor[];
  attentions: Tensor[];
  /** The body's final normalized hidden states (B, T, C). */
  final: Tensor;
}

export class SequenceClassifier extends Module {
  readonly config: ClassifierConfig;
  readonly body: DecoderModel;
  readonly score: Linear;

  constructor(config: ClassifierConfigInput) {
    super('');
    const c = (this.config = classifierConfigSchema.parse(config));
    // Tied embeddings create no lm_head parameter, and the classifier has none (as in transformers);
    // the stored config keeps the checkpoint's own flag.
    this.body = this.addChild(
      c.body.family === 'gpt2'
        ? createModel('gpt2', { ...c.body.config, tieWordEmbeddings: true })
        : createModel('llama', { ...c.body.config, tieWordEmbeddings: true }),
    );
    const dModel = this.body.config.dModel;
    this.score = this.addChild(new Linear('score', dModel, c.numLabels, { bias: false }));
  }

  /** ids (B, T) int64 → logits (B, numLabels). */
  forward(ids: Tensor, o: ClassifierForwardOptions = {}): ClassifierOutput {
    const [b, t] = ids.shape as [number, number];
    const keep = this.keepMask(ids, o.mask); // (B, T) bool, or undefined: no padding
    const out = this.body.forward(ids, { keep: keep && reshape(keep, [b, 1, 1, t]), train: o.train });
    const pooled = this.pool(out.final, keep); // (B, C)
    return {
      logits: this.score.forward(pooled),
      pooled,
      hidden: out.hidden,
      attentions: out.attentions,
      final: out.final,
    };
  }

  private keepMask(ids: Tensor, mask?: Tensor): Tensor | undefined {
    if (mask) {
      if (mask.rank !== 2 || mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1]) {
        throw new Error(
          `SequenceClassifier: mask has shape [${mask.shape.join(', ')}], expected the ids' shape [${ids.shape.join(', ')}]`,
        );
      }
      return mask.dtype === 'bool' ? mask : greater(cast(mask, 'float32'), 0);
    }
    if (this.config.padTokenId !== undefined) return logicalNot(equal(ids, this.config.padTokenId));
    return undefined;
  }

  private pool(final: Tensor, keep: Tensor | undefined): Tensor {
    const [b, t, c] = final.shape as [number, number, number];
    if (!keep) {
      return this.config.pooling === 'last' ? reshape(slice(final, 1, t - 1), [b, c]) : reduceMean(final, 1);
    }
    const m = cast(keep, 'float32'); // (B, T)
    let weights: Tensor; // (B, T), rows sum to 1
    if (this.config.pooling === 'mean') {
      weights = div(m, maximum(reduceSum(m, -1, true), 1));
    } else {
      // Index of the rightmost kept token: max over t of keep·(t+1), minus 1 (0 when a row is all padding, as argmax gives).
      const pos1 = constant(
        ndarray(
          [t],
          'float32',
          Array.from({ length: t }, (_, i) => i + 1),
        ),
      );
      const last = maximum(sub(reduceMax(mul(m, pos1), -1), 1), 0); // (B)
      weights = oneHot(cast(last, 'int64'), t); // (B, T)
    }
    return reshape(matmul(reshape(weights, [b, 1, t]), final), [b, c]); // (B, C)
  }
}
