// Evaluates traced tensors with each op's float64 reference kernel, given values for the leaves
// they reach. The reference interpreter runs whole graphs this way; ops with a body (chunkLoop)
// run their body with it once per chunk.
import type { NDArray } from './ndarray.ts';
import { topoSort, type Tensor } from './tensor.ts';

export function evaluateRef(outputs: readonly Tensor[], leaves: ReadonlyMap<Tensor, NDArray>): NDArray[] {
  const values = new Map<number, NDArray>();
  for (const [t, v] of leaves) values.set(t.id, v);
  for (const t of topoSort(outputs)) {
    if (values.has(t.id)) continue;
    if (t.leaf === 'constant') values.set(t.id, t.value!);
    else if (t.leaf) throw new Error(`evaluateRef: no value for leaf ${t}`);
    else
      values.set(
        t.id,
        t.def!.ref(
          t.inputs.map((i) => values.get(i.id)!),
          t.attrs,
          { shape: [...t.shape], dtype: t.dtype },
        ),
      );
  }
  return outputs.map((t) => values.get(t.id)!);
}
