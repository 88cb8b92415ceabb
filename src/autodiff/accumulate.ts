// Summing the gradient contributions a tensor receives from its several users. Where the users
// are slices of one tensor (split q/k/v, say), each contribution is a zero-padded piece; adding
// those would cost a pad and an add of the whole tensor per piece, so they are concatenated.
import { add, concat, expand, scalar, type Tensor } from '../graph/index.ts';
import { padOp } from '../graph/ops/shape-ops.ts';

interface Piece {
  start: number;
  end: number;
  inner: Tensor;
}

function paddedAxis(t: Tensor): number | null {
  const { before, after } = t.attrs as { before: number[]; after: number[] };
  const axes = before.map((b, i) => (b !== 0 || after[i] !== 0 ? i : -1)).filter((i) => i >= 0);
  return axes.length === 1 ? axes[0]! : null;
}

function zeros(like: Tensor, axis: number, size: number): Tensor {
  const shape = [...like.shape];
  shape[axis] = size;
  return expand(scalar(0, like.dtype), shape);
}

/** Concatenates non-overlapping pieces along `axis`, zeros in the gaps; null if they overlap. */
function tile(pieces: Piece[], axis: number, full: Tensor): Tensor | null {
  pieces.sort((a, b) => a.start - b.start);
  const parts: Tensor[] = [];
  let at = 0;
  for (const p of pieces) {
    if (p.start < at) return null;
    if (p.start > at) parts.push(zeros(full, axis, p.start - at));
    parts.push(p.inner);
    at = p.end;
  }
  if (at < full.shape[axis]!) parts.push(zeros(full, axis, full.shape[axis]! - at));
  return concat(parts, axis);
}

export function sumContributions(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const rest: Tensor[] = [];
  const byAxis = new Map<number, Tensor[]>();
  for (const p of parts) {
    const axis = p.def === padOp ? paddedAxis(p) : null;
    if (axis === null) rest.push(p);
    else byAxis.set(axis, [...(byAxis.get(axis) ?? []), p]);
  }
  for (const [axis, group] of byAxis) {
    const pieces = group.map((p) => {
      const start = (p.attrs as { before: number[] }).before[axis]!;
      return { start, end: start + p.inputs[0]!.shape[axis]!, inner: p.inputs[0]! };
    });
    const tiled = group.length > 1 ? tile(pieces, axis, group[0]!) : null;
    if (tiled) rest.push(tiled);
    else rest.push(...group);
  }
  return rest.reduce((acc, t) => add(acc, t));
}
