// Terms computed over chunks of rows, with their gradient computed in the same pass: the body (a
// loss over C positions) is traced once on chunk-sized placeholders, autodiff traces its reverse
// pass there too, and one chunkLoop runs both per chunk, accumulating the value, the parts and the
// gradients of the shared inputs (weights) and stacking the gradients of the sliced ones (hidden
// states). The loss's (positions × vocabulary) logits then exist one chunk at a time, in the
// forward and the backward pass alike, and are computed once per step, as in the unchunked graph
// (the fused linear cross-entropy of Liger-Kernel; Hsu et al. 2024).
import { attachGrad, chunkLoop, fmt, input, isFloat, type Tensor } from '../graph/index.ts';
import { grad } from './grad.ts';

export interface ChunkedInput {
  tensor: Tensor;
  /** Whether the objective's gradient reaches this input (the student's states and head: yes; a teacher's: no). */
  grad?: boolean;
}

export interface ChunkedTermsSpec {
  /** Split along axis 0 into chunks: every one has the same number of rows N. */
  sliced: readonly ChunkedInput[];
  /** Read whole by every chunk. */
  shared: readonly ChunkedInput[];
  /** Rows per chunk; must divide N (chunkRows picks one that does). */
  chunk: number;
  /**
   * The terms of one chunk, from placeholders shaped like its rows (sliced) and like the shared
   * inputs: `value` is the scalar that is differentiated, `parts` scalars only summed (metrics).
   * The totals are sums over chunks, so a mean over all rows must be written as this chunk's sum
   * divided by the whole count.
   */
  body(sliced: Tensor[], shared: Tensor[]): { value: Tensor; parts: Record<string, Tensor> };
  /** Compute gradients in the loop (a training step); false for forward-only graphs. Default true. */
  grads?: boolean;
}

export function chunkedTerms(spec: ChunkedTermsSpec): { value: Tensor; parts: Record<string, Tensor> } {
  const rows = spec.sliced[0]?.tensor.shape[0];
  if (rows === undefined) throw new Error('chunkedTerms: needs at least one sliced input');
  for (const s of spec.sliced)
    if (s.tensor.shape[0] !== rows)
      throw new Error(`chunkedTerms: every sliced input needs ${rows} rows; ${s.tensor} has ${fmt(s.tensor.shape)}`);
  if (rows % spec.chunk !== 0) throw new Error(`chunkedTerms: chunks of ${spec.chunk} rows do not divide ${rows}`);
  const sliced = spec.sliced.map((s, i) =>
    input(`chunk.row${i}`, [spec.chunk, ...s.tensor.shape.slice(1)], s.tensor.dtype),
  );
  const shared = spec.shared.map((s, i) => input(`chunk.shared${i}`, s.tensor.shape, s.tensor.dtype));
  const { value, parts } = spec.body(sliced, shared);
  if (value.size !== 1) throw new Error(`chunkedTerms: the body's value must be a scalar, got ${fmt(value.shape)}`);
  const partNames = Object.keys(parts);

  const wants = (s: ChunkedInput) => (s.grad ?? false) && isFloat(s.tensor.dtype);
  const slicedWrt = spec.sliced.flatMap((s, i) => (spec.grads !== false && wants(s) ? [i] : []));
  const sharedWrt = spec.shared.flatMap((s, i) => (spec.grads !== false && wants(s) ? [i] : []));
  const grads = grad(value, [...slicedWrt.map((i) => sliced[i]!), ...sharedWrt.map((i) => shared[i]!)]);
  const slicedGrads = grads.slice(0, slicedWrt.length);
  const sharedGrads = grads.slice(slicedWrt.length);

  const outs = chunkLoop(
    { sliced: spec.sliced.map((s) => s.tensor), shared: spec.shared.map((s) => s.tensor) },
    {
      chunk: spec.chunk,
      rows,
      sliced,
      shared,
      sums: [value, ...partNames.map((k) => parts[k]!), ...sharedGrads],
      scans: slicedGrads,
    },
  );
  const total = outs[0]!;
  const partTotals = Object.fromEntries(partNames.map((k, i) => [k, outs[1 + i]!]));
  const at = 1 + partNames.length;
  const xs = [...sharedWrt.map((i) => spec.shared[i]!.tensor), ...slicedWrt.map((i) => spec.sliced[i]!.tensor)];
  const vs = [...outs.slice(at, at + sharedWrt.length), ...outs.slice(at + sharedWrt.length)];
  return { value: xs.length > 0 ? attachGrad(total, xs, vs) : total, parts: partTotals };
}

/**
 * Rows per chunk for `setting` ('auto', 'off' or a row count) over N rows of a V-wide vocabulary:
 * 'auto' chunks only when one (N, V) float32 matrix would pass 256 MB, in chunks of at most 160 MB
 * (256 rows at V 151,936: smaller chunks run the heads' GEMMs at a fraction of their speed);
 * a number is taken as the largest divisor of N not above it. null means unchunked.
 */
export function chunkRows(setting: 'auto' | 'off' | number, rows: number, vocab: number): number | null {
  if (setting === 'off') return null;
  let want: number;
  if (setting === 'auto') {
    if (rows * vocab * 4 <= 256 * 2 ** 20) return null;
    want = Math.max(1, Math.floor((160 * 2 ** 20) / (vocab * 4)));
  } else want = setting;
  if (want >= rows) return null;
  for (let c = Math.min(want, rows); c >= 1; c--) if (rows % c === 0) return c;
  return null;
}
