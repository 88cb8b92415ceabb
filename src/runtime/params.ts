// Parameter values between steps: one typed array per named parameter, initialized from each
// parameter's declared init with a seeded generator so the same seed gives the same model.
import type { Tensor } from '../graph/index.ts';
import { hostTensor, type HostTensor } from './host.ts';
import { mulberry32 } from './random.ts';

function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Standard normal draws by Box-Muller. */
function gaussian(rng: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(rng(), 1e-12),
      v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export function initialValue(p: Tensor, seed: number): HostTensor {
  if (p.leaf !== 'param' || !p.init) throw new Error(`initialValue: ${p} is not a parameter`);
  const n = p.size;
  const data = p.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  const init = p.init;
  const rng = mulberry32((seed ^ hashName(p.name!)) >>> 0);
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      data.fill(1);
      break;
    case 'normal': {
      const g = gaussian(rng),
        std = init.std ?? 0.02;
      for (let i = 0; i < n; i++) data[i] = g() * std;
      break;
    }
    case 'uniform': {
      const b = init.bound ?? 0.1;
      for (let i = 0; i < n; i++) data[i] = (rng() * 2 - 1) * b;
      break;
    }
  }
  return hostTensor(p.dtype, p.shape, data);
}

/** Named parameter values. Keys are the parameters' names (Hugging Face style). */
export class ParamStore {
  readonly values = new Map<string, HostTensor>();

  static init(params: Iterable<Tensor>, seed = 0): ParamStore {
    const store = new ParamStore();
    for (const p of params) store.values.set(p.name!, initialValue(p, seed));
    return store;
  }

  get(name: string): HostTensor {
    const v = this.values.get(name);
    if (!v)
      throw new Error(
        `parameter '${name}' has no value; known: ${[...this.values.keys()].slice(0, 8).join(', ')}${this.values.size > 8 ? ', ...' : ''}`,
      );
    return v;
  }

  set(name: string, value: HostTensor): void {
    this.values.set(name, value);
  }

  /** Total number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const v of this.values.values()) n += v.data.length;
    return n;
  }
}
