// Global-norm gradient clipping, traced into the step graph (as torch.nn.utils.clip_grad_norm_).
import { add, div, maximum, mul, reduceSum, sqrt, type Tensor } from '../graph/index.ts';

export function clipByGlobalNorm(grads: readonly Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  const norm = globalNorm(grads);
  // scale = maxNorm / max(norm, maxNorm): 1 when under the limit, never a division by zero.
  const scale = div(maxNorm, maximum(norm, maxNorm));
  return { grads: grads.map((g) => mul(g, scale)), norm };
}

export function globalNorm(grads: readonly Tensor[]): Tensor {
  let sq: Tensor | null = null;
  for (const g of grads) {
    const s = reduceSum(mul(g, g));
    sq = sq ? add(sq, s) : s;
  }
  return sqrt(sq!);
}
