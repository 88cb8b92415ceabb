// The basic layers: Linear, Embedding, LayerNorm, RMSNorm, and the two MLP kinds.
import {
  add,
  gather,
  gelu,
  layerNorm,
  matmul,
  mul,
  reshape,
  rmsNorm,
  silu,
  type GeluApprox,
  type Tensor,
} from '../graph/index.ts';
import { Module } from './module.ts';

export interface LinearOptions {
  bias?: boolean;
  /**
   * 'out_in' is torch.nn.Linear's weight layout (Llama, Qwen2); 'in_out' is GPT-2's Conv1D.
   * Keeping the checkpoint's layout means loading never transposes.
   */
  layout?: 'out_in' | 'in_out';
  std?: number;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  readonly layout: 'out_in' | 'in_out';

  constructor(
    prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: LinearOptions = {},
  ) {
    super(prefix);
    this.layout = o.layout ?? 'out_in';
    const shape = this.layout === 'out_in' ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    this.weight = this.addParam('weight', shape, { kind: 'normal', std: o.std ?? 0.02 });
    if (o.bias ?? true) this.bias = this.addParam('bias', [outFeatures], { kind: 'zeros' });
  }

  forward(x: Tensor): Tensor {
    // Flatten leading axes so forward and both backward matmuls are single GEMMs.
    const lead = x.shape.slice(0, -1);
    const x2 = reshape(x, [-1, this.inFeatures]); // (N, in)
    let y = matmul(x2, this.weight, { transB: this.layout === 'out_in' }); // (N, out)
    if (this.bias) y = add(y, this.bias);
    return reshape(y, [...lead, this.outFeatures]);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    prefix: string,
    readonly num: number,
    readonly dim: number,
    std = 0.02,
  ) {
    super(prefix);
    this.weight = this.addParam('weight', [num, dim], { kind: 'normal', std });
  }
  forward(ids: Tensor): Tensor {
    return gather(this.weight, ids); // (..., dim)
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    prefix: string,
    dim: number,
    readonly eps = 1e-5,
    bias = true,
  ) {
    super(prefix);
    this.weight = this.addParam('weight', [dim], { kind: 'ones' });
    if (bias) this.bias = this.addParam('bias', [dim], { kind: 'zeros' });
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(
    prefix: string,
    dim: number,
    readonly eps = 1e-6,
  ) {
    super(prefix);
    this.weight = this.addParam('weight', [dim], { kind: 'ones' });
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** GPT-2's MLP: c_fc → GELU → c_proj (Conv1D layout). */
export class GeluMlp extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  constructor(
    prefix: string,
    dim: number,
    hidden: number,
    readonly approximate: GeluApprox,
    o: { projStd?: number; layout?: 'out_in' | 'in_out'; fcName?: string; projName?: string } = {},
  ) {
    super(prefix);
    const layout = o.layout ?? 'in_out';
    this.fc = this.addChild(new Linear(`${prefix}.${o.fcName ?? 'c_fc'}`, dim, hidden, { layout }));
    this.proj = this.addChild(
      new Linear(`${prefix}.${o.projName ?? 'c_proj'}`, hidden, dim, { layout, std: o.projStd }),
    );
  }
  forward(x: Tensor): Tensor {
    return this.proj.forward(gelu(this.fc.forward(x), this.approximate));
  }
}

/** Llama's SwiGLU MLP: down(silu(gate(x)) · up(x)), no biases. */
export class SwiGluMlp extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  constructor(prefix: string, dim: number, hidden: number, projStd?: number) {
    super(prefix);
    this.gate = this.addChild(new Linear(`${prefix}.gate_proj`, dim, hidden, { bias: false }));
    this.up = this.addChild(new Linear(`${prefix}.up_proj`, dim, hidden, { bias: false }));
    this.down = this.addChild(new Linear(`${prefix}.down_proj`, hidden, dim, { bias: false, std: projStd }));
  }
  forward(x: Tensor): Tensor {
    return this.down.forward(mul(silu(this.gate.forward(x)), this.up.forward(x)));
  }
}
