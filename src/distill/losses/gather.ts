// Picking entries along the last axis (torch.gather(x, -1, ids)), composed from existing ops.
//
// Two ways exist. oneHot(ids, V) · x builds a (…, k, V) tensor: for a causal LM batch of 8k
// positions, k = 20 and V = 50k that is 8·10⁹ floats. Instead the last axis is flattened into the
// rows of a 1-D table and `gather` reads N·k entries at flat indices n·V + id; its gradient is a
// ScatterND of N·k updates into one (N·V) buffer, the size of x's gradient anyway. So the flat
// gather costs O(N·k) beyond the dense gradient, the one-hot route O(N·k·V).
import { add, cast, constant, fmt, gather, ndarray, reshape, type Tensor } from '../../graph/index.ts';

/** x (…, V), ids (…, k) int → (…, k) with out[…, j] = x[…, ids[…, j]]. Ids must lie in [0, V). */
export function takeAlongLastAxis(x: Tensor, ids: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const v = x.shape[x.rank - 1]!;
  if (ids.rank !== x.rank || lead.some((d, i) => d !== ids.shape[i])) {
    throw new Error(`takeAlongLastAxis: ids ${fmt(ids.shape)} must match x ${fmt(x.shape)} in every axis but the last`);
  }
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32')
    throw new Error(`takeAlongLastAxis: ids must be int64 or int32, got ${ids.dtype}`);
  const n = lead.reduce((a, b) => a * b, 1);
  const offsets = constant(
    ndarray(
      [...lead, 1],
      'int64',
      Array.from({ length: n }, (_, i) => i * v),
    ),
  ); // (…, 1)
  const flat = add(cast(ids, 'int64'), offsets); // (…, k)
  return gather(reshape(x, [n * v]), flat); // (…, k)
}
