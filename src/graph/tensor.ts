// The symbolic tensor. Calling an op function records a node and returns its output tensor;
// a model is a plain function over tensors, and the graph is whatever its outputs reach.
import type { DType } from './dtype.ts';
import type { NDArray } from './ndarray.ts';
import type { OpDef } from './op.ts';

let nextId = 0;

export type LeafKind =
  /** Fed at run time (token ids, labels, optimizer scalars). */
  | 'input'
  /** A trainable parameter: a graph input during training, an initializer on export. */
  | 'param'
  /** A constant baked into the graph. */
  | 'constant'
  /** Uniform [0, 1) noise the executor supplies from a seeded generator (dropout masks). */
  | 'random';

export interface ParamInit {
  kind: 'normal' | 'zeros' | 'ones' | 'uniform';
  std?: number;
  /** uniform in [-bound, bound] */
  bound?: number;
}

export class Tensor {
  readonly id = nextId++;
  constructor(
    /** The op that made this tensor, or null for a leaf. */
    readonly def: OpDef | null,
    readonly inputs: readonly Tensor[],
    readonly attrs: unknown,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly leaf: LeafKind | null = null,
    /** Leaves are named (feeds, parameters); inner nodes may be named to export them. */
    public name?: string,
    /** The value of a constant leaf. */
    readonly value?: NDArray,
    /** How a parameter starts. */
    readonly init?: ParamInit,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get opName(): string {
    return this.def?.name ?? this.leaf!;
  }

  toString(): string {
    return `Tensor(${this.name ?? `${this.opName}#${this.id}`}, ${this.dtype}[${this.shape.join(', ')}])`;
  }
}

/** Records an op application: checks shapes through the op's rule and returns the output. */
export function apply<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const { shape, dtype } = def.infer(inputs, attrs);
  return new Tensor(def, inputs, attrs, shape, dtype);
}

function checkShape(what: string, shape: readonly number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${what}: shape [${shape.join(', ')}] must hold non-negative integers`);
  }
}

export function input(name: string, shape: readonly number[], dtype: DType = 'float32'): Tensor {
  checkShape(`input '${name}'`, shape);
  return new Tensor(null, [], undefined, [...shape], dtype, 'input', name);
}

let paramPrefix = '';

/**
 * Runs `build` with every parameter it creates named `${prefix}${name}`, so two models with the
 * same Hugging Face names (a teacher and its student) can live in one graph.
 */
export function withParamPrefix<T>(prefix: string, build: () => T): T {
  const saved = paramPrefix;
  paramPrefix = saved + prefix;
  try {
    return build();
  } finally {
    paramPrefix = saved;
  }
}

export function param(
  name: string,
  shape: readonly number[],
  init: ParamInit = { kind: 'normal', std: 0.02 },
  dtype: DType = 'float32',
): Tensor {
  checkShape(`param '${name}'`, shape);
  return new Tensor(null, [], undefined, [...shape], dtype, 'param', paramPrefix + name, undefined, init);
}

export function constant(value: NDArray): Tensor {
  return new Tensor(null, [], undefined, [...value.shape], value.dtype, 'constant', undefined, value);
}

/** Uniform [0, 1) noise of the given shape; `key` tells apart several draws in one graph. */
export function random(key: string, shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return new Tensor(null, [], undefined, [...shape], dtype, 'random', key);
}

/** Every tensor the outputs depend on, inputs before users. */
export function topoSort(outputs: readonly Tensor[]): Tensor[] {
  const seen = new Set<number>();
  const order: Tensor[] = [];
  // Iterative DFS: transformer graphs with backward passes are deep enough to overflow recursion.
  const stack: Array<[Tensor, number]> = outputs.map((t) => [t, 0] as [Tensor, number]).reverse();
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (seen.has(t.id)) {
      stack.pop();
      continue;
    }
    if (i < t.inputs.length) {
      top[1]++;
      const child = t.inputs[i]!;
      if (!seen.has(child.id)) stack.push([child, 0]);
    } else {
      stack.pop();
      seen.add(t.id);
      order.push(t);
    }
  }
  return order;
}
