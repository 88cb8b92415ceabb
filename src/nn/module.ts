// A module owns named parameters (Hugging Face names, so checkpoints map one to one) and a
// forward function over symbolic tensors. Parameters are created once; every trace reuses them.
import { param, type DType, type ParamInit, type Tensor } from '../graph/index.ts';

export const joinName = (prefix: string, local: string): string => (prefix ? `${prefix}.${local}` : local);

export class Module {
  /** This module's parameters and its children's, by full name. */
  readonly params = new Map<string, Tensor>();

  constructor(readonly prefix: string) {}

  protected addParam(local: string, shape: readonly number[], init: ParamInit, dtype: DType = 'float32'): Tensor {
    const t = param(joinName(this.prefix, local), shape, init, dtype);
    this.params.set(t.name!, t);
    return t;
  }

  protected addChild<M extends Module>(m: M): M {
    for (const [k, v] of m.params) this.params.set(k, v);
    return m;
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.size;
    return n;
  }
}
