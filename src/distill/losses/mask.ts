// Which positions count: labels equal to the ignore index and masked-out (padding) positions add
// nothing to any loss term, and means are taken over the positions that remain.
import {
  cast,
  div,
  equal,
  expand,
  logicalNot,
  maximum,
  reduceMean,
  reduceSum,
  where,
  type Tensor,
} from '../../graph/index.ts';

/** A bool keep-mask from a bool mask, or from numbers where nonzero keeps. */
export function keepOf(mask: Tensor): Tensor {
  return mask.dtype === 'bool' ? mask : logicalNot(equal(mask, 0));
}

/**
 * Folds a keep-mask into the labels (dropped positions get ignoreIndex), so the cross-entropy op and
 * the KD term see the same positions. Returns the labels and the bool keep-mask they imply.
 */
export function maskLabels(labels: Tensor, ignoreIndex: number, mask?: Tensor): { labels: Tensor; keep: Tensor } {
  if (labels.dtype !== 'int64')
    throw new Error(`labels must be int64 (onnxruntime's cross-entropy wants it), got ${labels.dtype}; cast them`);
  const masked = mask ? where(keepOf(mask), labels, ignoreIndex) : labels;
  return { labels: masked, keep: logicalNot(equal(masked, ignoreIndex)) };
}

/**
 * Mean of x over the kept elements; `keep` broadcasts to x's shape. Dropped elements go through
 * `where`, not a multiply, so NaN or inf there (padding garbage) cannot leak into the sum.
 * With nothing kept the mean is 0.
 */
export function maskedMean(x: Tensor, keep?: Tensor): Tensor {
  if (!keep) return reduceMean(x);
  const k = keepOf(keep);
  return div(reduceSum(where(k, x, 0)), maskedCount(x, k));
}

/** maskedMean's denominator: how many elements of x `keep` (broadcast to x's shape) keeps, at least 1. */
export function maskedCount(x: Tensor, keep: Tensor): Tensor {
  return maximum(reduceSum(expand(cast(keepOf(keep), x.dtype), x.shape)), 1);
}
