// Rotary position embeddings (Su et al. 2021, RoFormer) in Hugging Face's rotate_half convention:
// a head's dimensions pair as (i, i + hd/2), not (2i, 2i+1), so
//   rope(x) = x·cos + rotate_half(x)·sin,  rotate_half([x1, x2]) = [−x2, x1],
// with cos/sin of (position · θ^(−2i/hd)) repeated over both halves. Tables are computed on the host
// in float32 the way PyTorch does, so logits match a PyTorch dump to float32 rounding.
import { concat, constant, gather, mul, add, ndarray, neg, reshape, slice, type Tensor } from '../../graph/index.ts';
import type { RopeScaling } from './config.ts';

const f = Math.fround;

/** The hd/2 inverse frequencies θ^(−2i/hd), rescaled as `scaling` says (float32, as transformers computes them). */
export function ropeInvFreq(headDim: number, theta: number, scaling?: RopeScaling): Float32Array {
  const inv = new Float32Array(headDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = f(1 / f(theta ** f((2 * i) / headDim)));
  if (!scaling) return inv;
  if (scaling.kind === 'linear') return inv.map((v) => f(v / scaling.factor));
  // llama3: transformers' _compute_llama3_parameters.
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions: old } = scaling;
  const lowWavelen = old / lowFreqFactor,
    highWavelen = old / highFreqFactor;
  return inv.map((v) => {
    const wavelen = (2 * Math.PI) / v;
    if (wavelen < highWavelen) return v;
    if (wavelen > lowWavelen) return f(v / factor);
    const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return f((1 - smooth) * (v / factor) + smooth * v);
  });
}

export interface RopeTables {
  cos: Tensor; // (T, hd) or (N, hd)
  sin: Tensor;
}

/** cos and sin for the given positions: (positions.length, hd), each row [cos(p·inv), cos(p·inv)]. */
export function ropeTables(invFreq: Float32Array, positions: readonly number[]): RopeTables {
  const half = invFreq.length,
    hd = 2 * half;
  const cos = ndarray([positions.length, hd], 'float32');
  const sin = ndarray([positions.length, hd], 'float32');
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = f(p * invFreq[i]!);
      const c = f(Math.cos(angle)),
        s = f(Math.sin(angle));
      cos.data[t * hd + i] = cos.data[t * hd + half + i] = c;
      sin.data[t * hd + i] = sin.data[t * hd + half + i] = s;
    }
  });
  return { cos: constant(cos), sin: constant(sin) };
}

/**
 * Rows of a (maxPositions, hd) table picked by int64 position ids, shaped to broadcast over
 * (B, H, T, hd): ids (T) → (T, hd); ids (B, T) → (B, 1, T, hd).
 */
export function gatherRope(table: RopeTables, positionIds: Tensor): RopeTables {
  const pick = (t: Tensor) => {
    const rows = gather(t, positionIds); // (..., T, hd)
    return positionIds.rank === 2
      ? reshape(rows, [positionIds.shape[0]!, 1, positionIds.shape[1]!, t.shape[1]!])
      : rows;
  };
  return { cos: pick(table.cos), sin: pick(table.sin) };
}

/** [x1, x2] → [−x2, x1] over the last axis. */
export function rotateHalf(x: Tensor): Tensor {
  const hd = x.shape[x.rank - 1]!;
  return concat([neg(slice(x, -1, hd / 2)), slice(x, -1, 0, hd / 2)], -1);
}

/** x (B, H, T, hd) rotated by position: x·cos + rotate_half(x)·sin. */
export function applyRope(x: Tensor, { cos, sin }: RopeTables): Tensor {
  return add(mul(x, cos), mul(rotateHalf(x), sin));
}
