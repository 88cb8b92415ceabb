// Helpers the model tests share: run a traced graph with a ParamStore's values as feeds, and compare.
import type { Tensor } from '../../graph/index.ts';
import { toNumbers, type Executor, type HostTensor, type ParamStore } from '../../runtime/index.ts';

/** Runs `outputs` on `executor`, feeding every parameter from `params` plus the given feeds. */
export async function runGraph(
  executor: Executor,
  outputs: Record<string, Tensor>,
  params: ParamStore,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> {
  const program = await executor.compile(outputs);
  return program.run({ ...Object.fromEntries(params.values), ...feeds });
}

/** max |a − b| over all elements; throws if the lengths differ. */
export function maxAbsDiff(a: HostTensor | ArrayLike<number>, b: HostTensor | ArrayLike<number>): number {
  const x = 'dtype' in a ? toNumbers(a) : a,
    y = 'dtype' in b ? toNumbers(b) : b;
  if (x.length !== y.length) throw new Error(`maxAbsDiff: ${x.length} values vs ${y.length}`);
  let d = 0;
  for (let i = 0; i < x.length; i++)
    d = Math.max(d, Math.abs(x[i]! - y[i]!) || (Number.isNaN(x[i]! - y[i]!) ? Infinity : 0));
  return d;
}
