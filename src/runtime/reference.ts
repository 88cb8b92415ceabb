// The reference interpreter: runs a traced graph op by op with each OpDef's float64 kernel
// (graph/evaluate.ts, which chunkLoop's kernel also runs its body with).
// Slow and obviously correct; every onnxruntime result in the tests is checked against it.
import { evaluateRef, topoSort, type NDArray, type Tensor } from '../graph/index.ts';
import { ndarray } from '../graph/ndarray.ts';
import { hostArray } from '../onnx/host.ts';
import { hostTensor, toNumbers, type HostTensor } from './host.ts';
import { completeFeeds, type Executor, type Program, type RunOptions } from './program.ts';
import type { IoSpec } from '../onnx/lower.ts';

function leafName(t: Tensor): string {
  return t.leaf === 'random' ? `random.${t.name}` : t.name!;
}

export class ReferenceExecutor implements Executor {
  readonly name = 'reference';

  async compile(outputs: Record<string, Tensor>): Promise<Program> {
    const leaves = topoSort(Object.values(outputs)).filter((t) => t.leaf && t.leaf !== 'constant');
    const inputs: IoSpec[] = leaves.map((t) => ({
      name: leafName(t),
      shape: [...t.shape],
      dtype: t.dtype,
      kind: t.leaf as IoSpec['kind'],
    }));
    const outSpecs: IoSpec[] = Object.entries(outputs).map(([name, t]) => ({
      name,
      shape: [...t.shape],
      dtype: t.dtype,
      kind: 'output',
    }));
    return {
      inputs,
      outputs: outSpecs,
      run: async (feeds: Record<string, HostTensor>, opts?: RunOptions) => {
        const all = completeFeeds(inputs, feeds, opts);
        const fed = new Map<Tensor, NDArray>();
        for (const t of leaves) {
          const f = all[leafName(t)]!;
          fed.set(t, ndarray(f.shape, f.dtype, toNumbers(f)));
        }
        const values = evaluateRef(Object.values(outputs), fed);
        const result: Record<string, HostTensor> = {};
        for (const [i, [name, t]] of Object.entries(outputs).entries()) {
          const v = values[i]!;
          const fresh = hostArray(t.dtype, v.data);
          const buf = opts?.into?.[name];
          if (buf) buf.data.set(fresh as never);
          result[name] = buf ?? hostTensor(t.dtype, t.shape, fresh);
        }
        return result;
      },
    };
  }
}
