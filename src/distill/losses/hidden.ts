// Hidden-state distillation (FitNets, Romero et al. 2015; TinyBERT, Jiao et al. 2020, hidden-state
// distillation L_hidn = MSE(H^S·W_h, H^T)): each paired student hidden state is mapped to the teacher's width
// by a learned projection W_h that trains with the student, then compared with the teacher's by
// mean squared error or by cosine distance 1 − cos (as DistilBERT's cosine embedding loss).
// The pair losses are averaged with per-pair weights: Σ w_i·ℓ_i / Σ w_i.
import {
  add,
  fmt,
  matmul,
  mul,
  reduceMean,
  reduceSum,
  reshape,
  rsqrt,
  square,
  sub,
  type DType,
  type Tensor,
} from '../../graph/index.ts';
import { Module } from '../../nn/index.ts';
import { z } from 'zod';
import { layerMapSchema, layerPairs, layerWeightsField, pairWeights, type LayerPair } from './layer-map.ts';
import { maskedMean } from './mask.ts';
import { need, type DistillBatch, type DistillLoss, type LossDims, type LossOutput } from './types.ts';

export const hiddenLossSchema = z.object({
  kind: z.literal('hidden'),
  layers: layerMapSchema.default({ kind: 'uniform', includeEmbeddings: false }),
  /** One weight per layer pair; default all 1. */
  weights: layerWeightsField,
  /** mse: mean over positions and channels of (W·h_s − h_t)²; cosine: mean over positions of 1 − cos(W·h_s, h_t). */
  metric: z.enum(['mse', 'cosine']).default('mse'),
  /** linear: a learned Cs → Ct map per pair; none: compare directly (needs Cs = Ct). */
  projection: z.enum(['linear', 'none']).default('linear'),
  projectionBias: z.boolean().default(false),
  /** Keeps cosine finite for zero vectors: cos = x·y / √(|x|²·|y|² + eps). */
  eps: z.number().positive().default(1e-12),
});
export type HiddenLossConfig = z.output<typeof hiddenLossSchema>;

/**
 * A learned map y = x·Wᵀ (+ b), W (out, in) in torch.nn.Linear's layout. nn.Linear makes float32
 * parameters only; this one takes a dtype so the loss can be checked in float64.
 * Initialized N(0, 1/in) so projected states start at the student's own scale.
 */
export class Projection extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: { bias?: boolean; dtype?: DType } = {},
  ) {
    super(prefix);
    const dtype = o.dtype ?? 'float32';
    this.weight = this.addParam(
      'weight',
      [outFeatures, inFeatures],
      { kind: 'normal', std: 1 / Math.sqrt(inFeatures) },
      dtype,
    );
    if (o.bias) this.bias = this.addParam('bias', [outFeatures], { kind: 'zeros' }, dtype);
  }
  forward(x: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    let y = matmul(reshape(x, [-1, this.inFeatures]), this.weight, { transB: true }); // (N, out)
    if (this.bias) y = add(y, this.bias);
    return reshape(y, [...lead, this.outFeatures]); // (…, out)
  }
}

/** Per-position distance (B, T) between projected student states and teacher states, both (B, T, C). */
export function hiddenDistance(student: Tensor, teacher: Tensor, metric: 'mse' | 'cosine', eps = 1e-12): Tensor {
  if (student.rank !== teacher.rank || student.shape.some((d, i) => d !== teacher.shape[i])) {
    throw new Error(
      `hidden-state loss: projected student ${fmt(student.shape)} and teacher ${fmt(teacher.shape)} must have one shape`,
    );
  }
  if (metric === 'mse') return reduceMean(square(sub(student, teacher)), -1); // (B, T)
  const dot = reduceSum(mul(student, teacher), -1);
  const norms = mul(reduceSum(square(student), -1), reduceSum(square(teacher), -1));
  return sub(1, mul(dot, rsqrt(add(norms, eps)))); // (B, T)
}

export class HiddenStateLoss extends Module implements DistillLoss {
  readonly kind = 'hidden' as const;
  readonly pairs: LayerPair[];
  readonly weights: number[];
  /** One per pair, null where projection is 'none'. Named `${prefix}.proj.{i}`. */
  readonly projections: (Projection | null)[];

  constructor(
    readonly config: HiddenLossConfig,
    dims: LossDims,
    prefix = 'distill',
  ) {
    super(prefix);
    const { student: s, teacher: t } = dims;
    this.pairs = layerPairs(config.layers, s.layers, t.layers);
    this.weights = pairWeights(config.weights, this.pairs, 'hidden-state loss');
    if (config.projection === 'none' && s.hidden !== t.hidden) {
      throw new Error(
        `hidden-state loss: projection 'none' compares states directly, but the student is ${s.hidden} wide and the teacher ${t.hidden}; use projection 'linear'`,
      );
    }
    this.projections = this.pairs.map((_, i) =>
      config.projection === 'none'
        ? null
        : this.addChild(
            new Projection(`${prefix}.proj.${i}`, s.hidden, t.hidden, {
              bias: config.projectionBias,
              dtype: dims.dtype,
            }),
          ),
    );
  }

  /** Loss of pair i: student (B, T, Cs), teacher (B, T, Ct), mask (B, T). */
  pairLoss(i: number, student: Tensor, teacher: Tensor, mask?: Tensor): Tensor {
    const p = this.projections[i];
    return maskedMean(
      hiddenDistance(p ? p.forward(student) : student, teacher, this.config.metric, this.config.eps),
      mask,
    );
  }

  forward(b: DistillBatch): LossOutput {
    const sh = need(
      b.student.hidden,
      'hidden-state loss',
      'student.hidden',
      "pass the student's hidden states, embeddings first; fromDecoder(out) fills them",
    );
    const th = need(
      b.teacher.hidden,
      'hidden-state loss',
      'teacher.hidden',
      'the teacher must return its hidden states; an API teacher cannot, so drop this loss',
    );
    const parts: Record<string, Tensor> = {};
    let total: Tensor | undefined;
    this.pairs.forEach(([s, t], i) => {
      const hs = sh[s],
        ht = th[t];
      if (!hs || !ht)
        throw new Error(
          `hidden-state loss: pair [${s}, ${t}] needs student hidden[${s}] and teacher hidden[${t}], but there are ${sh.length} and ${th.length}`,
        );
      const l = this.pairLoss(i, hs, ht, b.mask);
      parts[`layer${s}_${t}`] = l;
      const wl = mul(l, this.weights[i]!);
      total = total ? add(total, wl) : wl;
    });
    const wsum = this.weights.reduce((a, w) => a + w, 0);
    return { loss: mul(total!, 1 / wsum), parts };
  }
}
