// The reference interpreter: runs a traced graph op by op with each OpDef's float64 kernel.
// Slow and obviously correct; every onnxruntime result in the tests is checked against it.
import { topoSort, type NDArray, type Tensor } from '../graph/index.ts';
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
    const order = topoSort(Object.values(outputs));
    const inputs: IoSpec[] = order
      .filter((t) => t.leaf && t.leaf !== 'constant')
      .map((t) => ({ name: leafName(t), shape: [...t.shape], dtype: t.dtype, kind: t.leaf as IoSpec['kind'] }));
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
        const values = new Map<number, NDArray>();
        for (const t of order) {
          if (t.leaf === 'constant') values.set(t.id, t.value!);
          else if (t.leaf) {
            const f = all[leafName(t)]!;
            values.set(t.id, ndarray(f.shape, f.dtype, toNumbers(f)));
          } else {
            const args = t.inputs.map((i) => values.get(i.id)!);
            values.set(t.id, t.def!.ref(args, t.attrs, { shape: [...t.shape], dtype: t.dtype }));
          }
        }
        const result: Record<string, HostTensor> = {};
        for (const [name, t] of Object.entries(outputs)) {
          const v = values.get(t.id)!;
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
