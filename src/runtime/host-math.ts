// Row-wise float64 math on logits held on the host: what evaluation and agreement measures share.

/** log softmax of one row (float64), written into `out`. */
export function logSoftmaxRow(z: ArrayLike<number>, offset: number, n: number, out: Float64Array): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, z[offset + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(z[offset + i]! - m);
  const lse = m + Math.log(s);
  for (let i = 0; i < n; i++) out[i] = z[offset + i]! - lse;
}

/** Index of the first largest value of a row. */
export function argmaxRow(z: ArrayLike<number>, offset: number, n: number): number {
  let best = 0,
    bestV = z[offset]!;
  for (let i = 1; i < n; i++) {
    const v = z[offset + i]!;
    if (v > bestV) [best, bestV] = [i, v];
  }
  return best;
}

/** Σ p_t · (log p_t − log p_s) for two rows of log-probabilities; terms with p_t = 0 add nothing. */
export function klRow(teacherLogp: Float64Array, studentLogp: Float64Array, n: number): number {
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const lt = teacherLogp[i]!;
    if (lt === -Infinity) continue;
    kl += Math.exp(lt) * (lt - studentLogp[i]!);
  }
  return Math.max(0, kl);
}
