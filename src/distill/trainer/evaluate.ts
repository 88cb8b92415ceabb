// The evaluation program: forward only (dropout off), on held-out batches. It reports the objective
// (total and terms, the same loss builder as training) and, when the model makes next-token
// predictions, accuracy and perplexity = exp(mean negative log-likelihood per token).
import {
  cast,
  crossEntropy,
  equal,
  logicalNot,
  mul,
  reduceMax,
  reduceSum,
  reshape,
  takeAlongLastAxis,
  where,
  type Tensor,
} from '../../graph/index.ts';

export interface EvalResult {
  /** Optimizer steps completed when it ran. */
  step: number;
  /** Mean of the objective over the held-out batches. */
  loss: number;
  terms: Record<string, number>;
  /** Fraction of labelled tokens whose highest logit is the label (ties count as hits). */
  accuracy?: number;
  /** exp of the mean next-token cross-entropy over all labelled tokens. */
  perplexity?: number;
  /** Labelled tokens seen. */
  tokens?: number;
  batches: number;
}

/** Outputs of the eval graph: loss, term.{k}, and eval.nll / eval.correct / eval.count for predictions. */
export function evalOutputs(
  total: Tensor,
  terms: Record<string, Tensor>,
  predictions?: { logits: Tensor; labels: Tensor },
  ignoreIndex = -100,
): Record<string, Tensor> {
  const out: Record<string, Tensor> = { loss: total };
  for (const [k, t] of Object.entries(terms)) out[`term.${k}`] = t;
  if (predictions) {
    const { logits, labels } = predictions; // (..., V), (...)
    const valid = logicalNot(equal(labels, ignoreIndex)); // (...)
    const validF = cast(valid, logits.dtype);
    // The label's logit, exactly: a gather of one entry per position, not a (..., V) one-hot product.
    const safe = reshape(where(valid, labels, 0), [...labels.shape, 1]);
    const picked = reshape(takeAlongLastAxis(logits, safe), labels.shape); // (...)
    const hit = cast(equal(picked, reduceMax(logits, -1)), logits.dtype);
    out['eval.nll'] = crossEntropy(logits, labels, ignoreIndex);
    out['eval.correct'] = reduceSum(mul(hit, validF));
    out['eval.count'] = reduceSum(validF);
  }
  return out;
}

/** Sums per-batch eval outputs into one EvalResult. */
export class EvalAccumulator {
  private batches = 0;
  private loss = 0;
  private readonly terms: Record<string, number> = {};
  private nllSum = 0;
  private correct = 0;
  private count = 0;
  private hasPredictions = false;

  add(out: Record<string, number>): void {
    this.batches++;
    this.loss += out.loss!;
    for (const [k, v] of Object.entries(out))
      if (k.startsWith('term.')) this.terms[k.slice(5)] = (this.terms[k.slice(5)] ?? 0) + v;
    if ('eval.count' in out) {
      this.hasPredictions = true;
      const n = out['eval.count']!;
      if (n > 0) {
        this.nllSum += out['eval.nll']! * n;
        this.correct += out['eval.correct']!;
        this.count += n;
      }
    }
  }

  result(step: number): EvalResult {
    const n = Math.max(1, this.batches);
    const r: EvalResult = {
      step,
      loss: this.loss / n,
      terms: Object.fromEntries(Object.entries(this.terms).map(([k, v]) => [k, v / n])),
      batches: this.batches,
    };
    if (this.hasPredictions) {
      r.accuracy = this.count > 0 ? this.correct / this.count : NaN;
      r.perplexity = this.count > 0 ? Math.exp(this.nllSum / this.count) : NaN;
      r.tokens = this.count;
    }
    return r;
  }
}

/** The number a monitor reads from a result: loss, accuracy, perplexity or term.{name}. */
export function metricOf(r: EvalResult, metric: string): number {
  if (metric === 'loss') return r.loss;
  if (metric === 'accuracy' || metric === 'perplexity') {
    const v = r[metric];
    if (v === undefined)
      throw new Error(
        `monitor: metric '${metric}' needs predictions; pass \`predictions\` to the Trainer or monitor 'loss'`,
      );
    return v;
  }
  if (metric.startsWith('term.') && metric.slice(5) in r.terms) return r.terms[metric.slice(5)]!;
  throw new Error(
    `monitor: unknown metric '${metric}'; use loss, accuracy, perplexity or term.{name} with name one of: ${Object.keys(r.terms).join(', ') || '(no terms)'}`,
  );
}
