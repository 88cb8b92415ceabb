// Scaled dot-product attention from primitives, so it differentiates and exports like any op.
import { causalMask, expand, matmul, mul, reshape, softmax, swapAxes, where, type Tensor } from '../graph/index.ts';

export interface AttentionResult {
  out: Tensor; // (B, H, T, hs)
  /** Attention probabilities (B, H, T, S): what attention-map distillation compares. */
  probs: Tensor;
}

export interface AttentionOptions {
  /** Mask future keys (query i sees keys up to i, aligned to the end when S > T). */
  causal: boolean;
  /** Bool keep-mask broadcastable to (B, H, T, S), e.g. padding from an attention_mask. */
  keep?: Tensor;
}

/**
 * softmax(q·kᵀ/√hs + masks) · v. q (B, H, T, hs); k, v (B, Hkv, S, hs) with H a multiple of Hkv
 * (grouped-query attention: each kv head serves H/Hkv query heads).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): AttentionResult {
  const h = q.shape[1]!,
    hs = q.shape[3]!,
    hkv = k.shape[1]!;
  if (h % hkv !== 0) throw new Error(`attention: ${h} query heads cannot share ${hkv} key/value heads evenly`);
  // Scaling q rather than the scores touches T·hs elements per head instead of T·S.
  let scores = matmul(mul(q, 1 / Math.sqrt(hs)), repeatKv(k, h / hkv), { transB: true }); // (B, H, T, S)
  if (o.causal) scores = causalMask(scores);
  if (o.keep) scores = where(o.keep, scores, -1e9);
  const probs = softmax(scores, -1);
  return { out: matmul(probs, repeatKv(v, h / hkv)), probs };
}

/** (B, Hkv, S, hs) → (B, Hkv·n, S, hs), each kv head repeated n times in place. */
export function repeatKv(x: Tensor, n: number): Tensor {
  if (n === 1) return x;
  const [b, hkv, s, hs] = x.shape as [number, number, number, number];
  return reshape(expand(reshape(x, [b, hkv, 1, s, hs]), [b, hkv, n, s, hs]), [b, hkv * n, s, hs]);
}

/** (B, T, H·hs) → (B, H, T, hs) */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, c] = x.shape as [number, number, number];
  return swapAxes(reshape(x, [b, t, heads, c / heads]), 1, 2);
}

/** (B, H, T, hs) → (B, T, H·hs) */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, hs] = x.shape as [number, number, number, number];
  return reshape(swapAxes(x, 1, 2), [b, t, h * hs]);
}
