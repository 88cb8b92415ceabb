// Forward KL between dense teacher and student logits, with its gradient written out rather than
// traced. Autodiff's trace of Σ p·(log p − log q) makes about eight passes over the (positions × V)
// logits in the backward pass (the Expand of the sum, the product rule, LogSoftmax's backward, the
// 1/T); the closed form makes three (exp of log q, q − p, its scaling), and none in a graph that is
// only evaluated. Forward KL is the default divergence, so this is the common case.
//   mean KL = Σ_i w_i Σ_v p_iv (log p_iv − log q_iv),  p = softmax(t/T), q = softmax(s/T)
//   ∂/∂s_i = w_i (q_i − p_i) / T        ∂/∂t_i = w_i p_i ⊙ (log p_i − log q_i − KL_i) / T
// w_i is position i's share of the mean: 1/kept for kept positions, 0 for dropped ones, with kept
// maskedMean's own denominator, so the gradient is that of the value it returns.
import { attachGradRule, div, exp, mul, reduceSum, sub, type Tensor, unsqueeze, where } from '../../graph/index.ts';
import { keepOf, maskedCount, maskedMean } from './mask.ts';

export interface ForwardKlInputs {
  /** Teacher and student log-probabilities at temperature T, (…, V). */
  teacherLogp: Tensor;
  studentLogp: Tensor;
  /** The logits they were computed from (before the division by T), (…, V). */
  teacherLogits: Tensor;
  studentLogits: Tensor;
  temperature: number;
  /** Keep-mask over the positions (…); absent, every position counts. */
  keep?: Tensor;
}

/** Mean over kept positions of KL(p‖q), differentiable in both logits through the closed form above. */
export function forwardKlMean(x: ForwardKlInputs): Tensor {
  const { teacherLogp: lp, studentLogp: lq } = x;
  const p = exp(lp);
  const logRatio = sub(lp, lq);
  const kl = reduceSum(mul(p, logRatio), [-1]); // (…)
  const value = maskedMean(kl, x.keep);

  // Each position's weight over T, (…, 1). Dropped positions get 0 through `where`, as in maskedMean.
  let scale: Tensor | number;
  if (x.keep) {
    const k = keepOf(x.keep);
    scale = unsqueeze(where(k, div(1 / x.temperature, maskedCount(kl, k)), 0), -1);
  } else scale = 1 / (x.temperature * kl.size);
  // Built only when autodiff asks, and the teacher's only when its logits are being trained (online).
  return attachGradRule(value, [x.studentLogits, x.teacherLogits], (g) => {
    const gScale = mul(scale, g);
    return [mul(sub(exp(lq), p), gScale), mul(mul(p, sub(logRatio, unsqueeze(kl, -1))), gScale)];
  });
}
