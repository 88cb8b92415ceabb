// Several teachers' next-token distributions combined into one target (for logit KD).
// 'weighted' mixes probabilities with fixed weights; 'confidence' weighs each teacher per position
// by its certainty, softmax over teachers of −entropy (lower entropy weighs more), as in
// confidence-aware multi-teacher KD (Zhang et al. 2022). The mixture's log-probabilities serve as
// the combined teacher's logits (softmax of log-probs returns the mixture itself).
import * as g from '../../graph/index.ts';

export type MultiTeacherMode = 'weighted' | 'confidence' | 'per-teacher';

/** log Σᵢ wᵢ·pᵢ over teachers, computed stably from log-probs. logps: each (..., V); logw: each (..., 1) or scalar. */
function logMixture(logps: readonly g.Tensor[], logws: readonly g.Tensor[]): g.Tensor {
  const terms = logps.map((lp, i) => g.add(lp, logws[i]!));
  const stacked = g.concat(
    terms.map((t) => g.unsqueeze(t, 0)),
    0,
  ); // (n, ..., V)
  const m = g.reduceMax(stacked, 0, true);
  return g.reshape(g.add(g.log(g.reduceSum(g.exp(g.sub(stacked, m)), 0, true)), m), terms[0]!.shape);
}

export function combineTeacherLogits(
  logits: readonly g.Tensor[],
  mode: 'weighted' | 'confidence',
  weights?: readonly number[],
): g.Tensor {
  if (logits.length === 1) return logits[0]!;
  const vocab = logits[0]!.shape[logits[0]!.rank - 1];
  for (const l of logits) {
    if (l.shape[l.rank - 1] !== vocab)
      throw new Error(
        `multi-teacher: teachers' vocabularies differ (${vocab} vs ${l.shape[l.rank - 1]}); align them first (alignVocab) or use mode 'per-teacher'`,
      );
  }
  const logps = logits.map((l) => g.logSoftmax(l, -1));
  if (mode === 'weighted') {
    const w = weights ?? logits.map(() => 1);
    if (w.length !== logits.length || w.some((x) => !(x > 0)))
      throw new Error(`multi-teacher: need ${logits.length} positive weights, got [${w.join(', ')}]`);
    const total = w.reduce((a, b) => a + b, 0);
    return logMixture(
      logps,
      w.map((x) => g.scalar(Math.log(x / total), logits[0]!.dtype)),
    );
  }
  // Per-position confidence: −H(pᵢ) = Σ pᵢ log pᵢ, normalized over teachers by a softmax.
  const negEnt = logps.map((lp) => g.reduceSum(g.mul(g.exp(lp), lp), -1, true)); // (..., 1)
  const stacked = g.concat(negEnt, -1); // (..., n)
  const logw = g.logSoftmax(stacked, -1);
  const parts = logits.map((_, i) => g.slice(logw, -1, i, i + 1));
  return logMixture(logps, parts);
}
