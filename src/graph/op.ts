// What an op is: one record holding its shape rule, its reference kernel, its gradient rule and
// its ONNX lowering, side by side (as JAX registers spec, derivative and lowering together).
// The layers above (autodiff, onnx, runtime) are engines that walk these records; none of them
// has a per-op `if` chain, so adding an op touches exactly one file.
import type { DType } from './dtype.ts';
import type { NDArray } from './ndarray.ts';
import type { Tensor } from './tensor.ts';

export interface TypeInfo {
  shape: number[];
  dtype: DType;
}

/** An attribute value for an emitted ONNX node. */
export type LoweredAttr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { tensor: NDArray }
  /** A subgraph built by LowerCtx.subgraph (a Loop's body); opaque to the op. */
  | { graph: SubgraphAttr };

/** What LowerCtx.subgraph returns: the onnx layer's graph, carried through as an attribute value. */
export interface SubgraphAttr {
  readonly subgraph: true;
}

/** A formal input or output of a subgraph. */
export interface SubgraphValue {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

/** Lowers traced tensors inside a subgraph; `bound` names the leaves (and any tensor) already available there. */
export type LowerTensors = (tensors: readonly Tensor[], bound: ReadonlyMap<Tensor, string>) => string[];

export interface SubgraphSpec {
  /** Formal inputs in order (a Loop body: iteration number, condition, carried values). */
  inputs: SubgraphValue[];
  /**
   * Emits the body with `sub`, a context inside the subgraph (names of the enclosing graphs stay
   * visible, as ONNX scoping allows), and returns the formal outputs in order.
   */
  build(sub: LowerCtx, lower: LowerTensors): SubgraphValue[];
}

/** What a lowering rule may do: emit ONNX nodes and constants. Implemented by the onnx layer. */
export interface LowerCtx {
  /** Emits one node and returns the names of its outputs. */
  emit(
    opType: string,
    inputs: string[],
    attrs?: Record<string, LoweredAttr>,
    opts?: { domain?: string; outputs?: number },
  ): string[];
  /** Emits one node with a single output and returns its name. */
  op(opType: string, inputs: string[], attrs?: Record<string, LoweredAttr>, domain?: string): string;
  /** A 1-D int64 constant (axes, shapes, starts); identical values share one initializer. */
  int64s(values: readonly number[]): string;
  /** A rank-0 constant of the given dtype. */
  scalar(value: number, dtype: DType): string;
  /** The ONNX TensorProto.DataType code for a dtype. */
  onnxType(dtype: DType): number;
  /** Whether com.microsoft contrib ops (FusedMatMul, ...) may be used. */
  readonly contribOps: boolean;
  /** Builds a subgraph (for control-flow ops: Loop's body) whose value names do not clash with this graph's. */
  subgraph(spec: SubgraphSpec): SubgraphAttr;
}

export interface GradArgs<A> {
  /** Gradient of the loss with respect to this op's output. */
  g: Tensor;
  out: Tensor;
  inputs: readonly Tensor[];
  attrs: A;
}

/**
 * Returns one gradient per input (null where the input is not differentiable or gets none).
 * Built from other ops, so gradients of gradients and their ONNX lowering come for free.
 */
export type GradRule<A> = (args: GradArgs<A>) => (Tensor | null)[];

// biome-ignore lint/suspicious/noExplicitAny: ops' attribute types differ; the engines walk OpDef<any> tables
export interface OpDef<A = any> {
  readonly name: string;
  /** Shape and dtype of the output; throws ShapeError naming the op when inputs do not fit. */
  infer(inputs: readonly Tensor[], attrs: A): TypeInfo;
  /** The reference kernel, in float64: the oracle for tests and the fallback executor. */
  ref(inputs: NDArray[], attrs: A, out: TypeInfo): NDArray;
  /** null marks an op with no gradient (comparisons, casts to int, index ops). */
  grad: GradRule<A> | null;
  lower(ctx: LowerCtx, inputs: string[], attrs: A, out: Tensor): string;
}
