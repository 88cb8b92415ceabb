// Mixing generated rows into the training batches at a set ratio. Row k of the run (counting rows
// across batches) comes from the generated source exactly when ⌊(k+1)·r⌋ > ⌊k·r⌋, so any span of
// rows holds the ratio to within one row (a Bresenham line), whatever the batch size.
import type { Json } from '../../checkpoint/index.ts';
import type { Batch, DataSource } from '../../trainer/index.ts';
import { hostTensor, type HostTensor } from '../../../runtime/index.ts';

/** Whether row k (0-based, across batches) is a generated one at ratio r. */
export const isGeneratedRow = (k: number, ratio: number): boolean =>
  Math.floor((k + 1) * ratio) > Math.floor(k * ratio);

/** Each batch takes its rows from `data` or `generated` (both (B, …) per input, the same inputs), by isGeneratedRow. */
export function mixSources(data: DataSource, generated: DataSource, ratio: number): DataSource {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`augment: ratio must be in [0, 1), got ${ratio}`);
  const names = Object.keys(data.inputs);
  for (const n of names) {
    const a = data.inputs[n]!,
      b = generated.inputs[n];
    if (!b || b.dtype !== a.dtype || b.shape.join() !== a.shape.join())
      throw new Error(
        `augment: the generated data's input '${n}' is ${b ? `${b.dtype}[${b.shape}]` : 'missing'}, the training data's ${a.dtype}[${a.shape}]`,
      );
  }
  const rowsPerBatch = data.inputs[names[0]!]!.shape[0]!;
  return {
    inputs: data.inputs,
    open(cursor?: Json) {
      const c = cursor as { data?: Json; generated?: Json; index?: number } | undefined;
      if (c !== undefined && (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.index)))
        throw new Error(`augment: cursor ${JSON.stringify(cursor)} is not a mixed source's`);
      const a = data.open(c?.data),
        b = generated.open(c?.generated);
      let index = c?.index ?? 0;
      return {
        next(): Batch {
          const rows = Array.from({ length: rowsPerBatch }, (_, r) => isGeneratedRow(index * rowsPerBatch + r, ratio));
          index++;
          const x = a.next();
          if (!rows.some(Boolean)) return x;
          const y = b.next();
          const out: Batch = {};
          for (const n of names) out[n] = pickRows(x[n]!, y[n]!, rows);
          return out;
        },
        cursor: () => ({ data: a.cursor(), generated: b.cursor(), index }),
      };
    },
  };
}

/** Row r from `y` where rows[r], else from `x`. */
function pickRows(x: HostTensor, y: HostTensor, rows: readonly boolean[]): HostTensor {
  const per = x.data.length / rows.length;
  const data = x.data.slice() as HostTensor['data'];
  rows.forEach((fromY, r) => {
    if (fromY) (data as Float32Array).set((y.data as Float32Array).subarray(r * per, (r + 1) * per), r * per);
  });
  return hostTensor(x.dtype, x.shape, data as never);
}
