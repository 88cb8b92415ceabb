// Shape-polymorphic lowering: one ONNX graph that runs at every batch size and sequence length,
// from a tracer that only knows concrete shapes.
//
// Retort records sizes as plain numbers (reshape targets, expand shapes, slice ends, a causal mask
// constant), so a single trace cannot say which numbers are "the batch" and which are "the width".
// Instead the model is traced and lowered at several bindings of the symbolic dims (a base binding,
// then each dim varied alone, then all varied together). The lowered graphs have the same nodes; they
// differ only in constants. Each differing int64 constant element is fitted as c·Π dimᵉ + d over the
// bindings (e.g. batch·seq for a flattening reshape, total = past + seq for a key length) and
// replaced by nodes computing it from Shape of the graph inputs; differing constants of other kinds
// must match a known pattern (the causal mask, as a bool keep-mask or an additive bias). Anything else fails loudly, naming the node.
// No change to the graph layer is needed, and model code stays plain.
import type { Tensor } from '../graph/index.ts';
import { tensorToTypedArray } from '../onnx/index.ts';
import { lowerGraph, type IoSpec, type LowerOptions } from '../onnx/lower.ts';
import { OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/model.ts';

/** Where a symbolic dim's runtime value is read: an axis of a graph input, or the sum of other dims. */
export type DimSource = { input: string; axis: number } | { sum: string[] };

export interface SymbolicDim {
  /** The name written into the ONNX value infos, e.g. 'batch_size'. */
  name: string;
  from: DimSource;
}

export interface PolymorphicSpec {
  dims: SymbolicDim[];
  /**
   * Sizes to trace at, for the dims read from inputs (sums follow). The first is the base; then vary
   * each dim alone; a last binding varying all of them checks the fits. Keep sizes distinct and >= 2.
   */
  bindings: Record<string, number>[];
  /** Builds the graph's outputs at one binding (every dim's size given, sums included). */
  trace(sizes: Record<string, number>): Record<string, Tensor>;
  /** The symbolic dims of each graph input and output, by name (null: static). */
  io: Record<string, (string | null)[]>;
  lower?: Pick<LowerOptions, 'name' | 'contribOps' | 'metadata' | 'initializers'>;
}

export interface PolymorphicGraph {
  model: OnnxModel;
  inputs: IoSpec[];
  outputs: IoSpec[];
}

/** c · Π dims[k]^powers[k] + d */
interface Expr {
  powers: number[];
  c: number;
  d: number;
}

const fail = (msg: string): never => {
  throw new Error(`polymorphic export: ${msg}`);
};

export function lowerPolymorphic(spec: PolymorphicSpec): PolymorphicGraph {
  if (spec.bindings.length < 2) fail('give at least two bindings (a base, then each dim varied alone)');
  const sizes = spec.bindings.map((b) => resolveSizes(spec.dims, b));
  const lowered = sizes.map((s) => lowerGraph(spec.trace(s), { ...spec.lower, dynamicDims: undefined }));
  const base = lowered[0]!;
  const graphs = lowered.map((l) => l.model.graph);
  const dimValues = sizes.map((s) => spec.dims.map((d) => s[d.name]!));

  checkSameStructure(graphs);
  const views = graphs.map(indexGraph);
  const emitter = new Emitter(spec.dims);
  const nodes = base.model.graph.nodes.map((node, i) => {
    const others = graphs.map((g) => g.nodes[i]);
    const inputs = node.inputs.map((name, j) => {
      const refs = views.map((v, k) => v.describe(others[k]!.inputs[j]!));
      const first = refs[0]!;
      if (typeof first === 'string') {
        if (refs.some((r) => r !== first))
          fail(
            `node ${i} (${node.opType}) input ${j} comes from different places at different sizes; the traces differ in structure`,
          );
        return name;
      }
      const tensors = refs as OnnxTensor[];
      if (tensors.every((t) => sameTensor(t, first))) return name;
      return emitter.constant(tensors, dimValues, `node ${i} (${node.opType} '${node.name ?? ''}') input ${j}`);
    });
    return { ...node, inputs };
  });

  const used = new Set(nodes.flatMap((n) => n.inputs));
  const graph = base.model.graph;
  /** The io entry of an input or output, checked against its traced shape at every binding. */
  const withDims = (k: number, what: 'input' | 'output') => {
    const s = (what === 'input' ? base.inputs : base.outputs)[k]!;
    const names = spec.io[s.name];
    if (!names) return fail(`${what} '${s.name}' has no entry in io; list its symbolic dims (null for static ones)`);
    if (names.length !== s.shape.length)
      fail(`io['${s.name}'] lists ${names.length} dims, the ${what} has ${s.shape.length}`);
    lowered.forEach((l, b) => {
      const shape = (what === 'input' ? l.inputs : l.outputs)[k]!.shape;
      names.forEach((n, d) => {
        const want = n === null ? s.shape[d] : sizes[b]![n];
        if (want !== undefined && shape[d] !== want) {
          fail(
            `${what} '${s.name}' dim ${d} is ${shape[d]} at binding ${b}, but io names it ${n === null ? `static (${s.shape[d]})` : `'${n}' (${want})`}`,
          );
        }
      });
    });
    return names.map((n, d) => n ?? s.shape[d]!);
  };
  const model: OnnxModel = {
    ...base.model,
    graph: {
      ...graph,
      nodes: [...emitter.nodes, ...nodes],
      initializers: [...graph.initializers.filter((t) => used.has(t.name)), ...emitter.initializers],
      inputs: graph.inputs.map((v, k) => ({ ...v, shape: withDims(k, 'input') })),
      outputs: graph.outputs.map((v, k) => ({ ...v, shape: withDims(k, 'output') })),
    },
  };
  return { model, inputs: base.inputs, outputs: base.outputs };
}

function resolveSizes(dims: readonly SymbolicDim[], binding: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of dims) {
    if ('input' in d.from) {
      const v = binding[d.name];
      if (!Number.isInteger(v) || v! < 1)
        fail(`binding ${JSON.stringify(binding)} gives dim '${d.name}' no positive size`);
      out[d.name] = v!;
    } else {
      out[d.name] = d.from.sum.reduce(
        (s, n) => s + (out[n] ?? fail(`dim '${d.name}' sums '${n}', which is not declared before it`)),
        0,
      );
    }
  }
  return out;
}

/** What a value name refers to: a node output or graph input (as a position-independent string) or an initializer. */
function indexGraph(g: OnnxModel['graph']) {
  const producer = new Map<string, string>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o, j) => producer.set(o, `node ${i} output ${j}`)));
  g.inputs.forEach((v) => producer.set(v.name, `input ${v.name}`));
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  return {
    describe(name: string): string | OnnxTensor {
      if (name === '') return 'omitted';
      return producer.get(name) ?? inits.get(name) ?? `unknown ${name}`;
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameTensor(a: OnnxTensor, b: OnnxTensor): boolean {
  return (
    a.dataType === b.dataType &&
    a.dims.length === b.dims.length &&
    a.dims.every((d, i) => d === b.dims[i]) &&
    sameBytes(a.rawData, b.rawData)
  );
}

function sameAttribute(a: OnnxAttribute, b: OnnxAttribute): boolean {
  if (a.name !== b.name || a.type !== b.type) return false;
  if (a.type === 'tensor') return sameTensor(a.value, b.value as OnnxTensor);
  return JSON.stringify(a.value) === JSON.stringify(b.value);
}

function checkSameStructure(graphs: OnnxModel['graph'][]): void {
  const [g0, ...rest] = graphs as [OnnxModel['graph'], ...OnnxModel['graph'][]];
  rest.forEach((g, k) => {
    const where = `the trace at binding ${k + 1}`;
    if (g.nodes.length !== g0.nodes.length)
      fail(
        `${where} has ${g.nodes.length} nodes, the base ${g0.nodes.length}: some op is skipped at one size (a reshape or slice that is a no-op there); pick sizes that differ from every model dimension`,
      );
    g.nodes.forEach((n, i) => {
      const m = g0.nodes[i]!;
      const same =
        n.opType === m.opType &&
        (n.domain ?? '') === (m.domain ?? '') &&
        n.inputs.length === m.inputs.length &&
        n.outputs.length === m.outputs.length &&
        n.attributes.length === m.attributes.length &&
        n.attributes.every((a, j) => sameAttribute(a, m.attributes[j]!));
      if (!same)
        fail(
          `node ${i} is ${m.opType} in the base trace but ${n.opType} (or has other attributes) in ${where}; a size-dependent attribute cannot be made symbolic`,
        );
    });
    const names = (vs: { name: string }[]) => vs.map((v) => v.name).join(',');
    if (names(g.inputs) !== names(g0.inputs) || names(g.outputs) !== names(g0.outputs))
      fail(`${where} has other graph inputs or outputs than the base`);
  });
}

// ---------------------------------------------------------------- fitting
/** Fits values[k] = c·Π dims[k]^p + d over the bindings k, or returns why not. */
function fit(values: readonly number[], dimValues: readonly number[][], what: string): Expr {
  const nd = dimValues[0]!.length;
  const fits: Expr[] = [];
  const powers = new Array<number>(nd).fill(0);
  const visit = (k: number): void => {
    if (k === nd) {
      if (powers.every((p) => p === 0)) return;
      const m = dimValues.map((dv) => dv.reduce((acc, v, i) => acc * v ** powers[i]!, 1));
      const j = m.findIndex((x) => x !== m[0]);
      if (j < 0) return;
      const c = (values[j]! - values[0]!) / (m[j]! - m[0]!);
      const d = values[0]! - c * m[0]!;
      if (c === 0 || !Number.isInteger(c) || !Number.isInteger(d)) return;
      if (m.every((x, i) => c * x + d === values[i])) fits.push({ powers: [...powers], c, d });
      return;
    }
    for (let p = 0; p <= 2; p++) {
      powers[k] = p;
      visit(k + 1);
    }
  };
  visit(0);
  if (fits.length === 0)
    fail(
      `${what}: values ${JSON.stringify(values)} at the bindings are no c·Π dim^p + d of the dims; the model computes a size in a way export cannot follow`,
    );
  // Prefer no offset, then the lowest degree: ties left after that are a real ambiguity.
  const degree = (e: Expr) => e.powers.reduce((s, p) => s + p, 0);
  fits.sort((a, b) => Number(a.d !== 0) - Number(b.d !== 0) || degree(a) - degree(b));
  const [best, next] = fits;
  if (next && Number(best!.d !== 0) === Number(next.d !== 0) && degree(best!) === degree(next)) {
    fail(
      `${what}: values ${JSON.stringify(values)} fit several expressions; add a binding that varies the dims differently`,
    );
  }
  return best!;
}

/** A size that is the same at every binding stays a number. */
type Size = number | Expr;
const fitSize = (values: readonly number[], dimValues: readonly number[][], what: string): Size =>
  values.every((v) => v === values[0]) ? values[0]! : fit(values, dimValues, what);

/**
 * The causal mask in either form the graph layer writes it: a bool keep-mask (keep[i, j] = j ≤ i + C − R)
 * or an additive float bias (0 where kept, one fill value such as -1e9 elsewhere). Returns the fill for
 * a bias, true for a keep-mask, null for anything else.
 */
function causalForm(t: OnnxTensor): { fill: number } | true | null {
  if (t.dims.length !== 2) return null;
  const [r, c] = t.dims as [number, number];
  const isBool = t.dataType === OnnxDataType.BOOL;
  if (!isBool && t.dataType !== OnnxDataType.FLOAT && t.dataType !== OnnxDataType.DOUBLE) return null;
  const v = isBool ? t.rawData : (tensorToTypedArray(t) as Float32Array | Float64Array);
  let fill: number | undefined;
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) {
      const x = Number(v[i * c + j]!),
        kept = j <= i + c - r;
      if (isBool) {
        if ((x !== 0) !== kept) return null;
      } else if (kept) {
        if (x !== 0) return null;
      } else {
        fill ??= x;
        if (x !== fill || x === 0) return null;
      }
    }
  return isBool ? true : { fill: fill ?? -1e9 };
}

// ---------------------------------------------------------------- emitting
class Emitter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly memo = new Map<string, string>();
  private counter = 0;

  constructor(private readonly dims: readonly SymbolicDim[]) {}

  /** Nodes computing the constant `tensors` (one per binding) at run time; returns the output name. */
  constant(tensors: OnnxTensor[], dimValues: number[][], what: string): string {
    const t0 = tensors[0]!;
    const sameDims = tensors.every((t) => t.dims.length === t0.dims.length && t.dims.every((d, i) => d === t0.dims[i]));
    if (t0.dataType === OnnxDataType.INT64 && t0.dims.length <= 1 && sameDims) {
      const per = tensors.map((t) => Array.from(tensorToTypedArray(t) as BigInt64Array, Number));
      const elements = per[0]!.map((_, i) =>
        fitSize(
          per.map((p) => p[i]!),
          dimValues,
          `${what} element ${i}`,
        ),
      );
      const vec = this.vector(elements);
      return t0.dims.length === 0 ? this.op('Squeeze', [vec]) : vec;
    }
    const forms = tensors.map(causalForm);
    const f0 = forms[0];
    if (
      f0 &&
      forms.every((f) => f && (f === true ? f0 === true : f0 !== true && f.fill === f0.fill)) &&
      tensors.every((t) => t.dataType === t0.dataType)
    ) {
      const rows = fitSize(
        tensors.map((t) => t.dims[0]!),
        dimValues,
        `${what} (causal mask rows)`,
      );
      const cols = fitSize(
        tensors.map((t) => t.dims[1]!),
        dimValues,
        `${what} (causal mask columns)`,
      );
      const keep = this.causalMask(rows, cols);
      if (f0 === true) return keep;
      const [zero, fill] = [0, f0.fill].map((x) => this.floatScalar(x, t0.dataType));
      return this.memoize(`bias:${keep}:${f0.fill}:${t0.dataType}`, () => this.op('Where', [keep, zero!, fill!]));
    }
    return fail(
      `${what}: a ${t0.dims.length}-D constant of type ${t0.dataType} changes with the sizes and matches no known pattern (int64 shape vectors, the causal mask); build it from ops instead`,
    );
  }

  private fresh(base: string): string {
    return `poly_${base}_${this.counter++}`;
  }

  private memoize(key: string, make: () => string): string {
    let name = this.memo.get(key);
    if (!name) this.memo.set(key, (name = make()));
    return name;
  }

  private op(opType: string, inputs: string[], attributes: OnnxAttribute[] = []): string {
    const out = this.fresh(opType);
    this.nodes.push({ opType, domain: '', name: this.fresh(`n_${opType}`), inputs, outputs: [out], attributes });
    return out;
  }

  private int64s(values: number[], dims: number[] = [values.length]): string {
    return this.memoize(`i64:${dims.join('x')}:${values.join(',')}`, () => {
      const name = this.fresh('const');
      const arr = BigInt64Array.from(values.map(BigInt));
      this.initializers.push({ name, dataType: OnnxDataType.INT64, dims, rawData: new Uint8Array(arr.buffer) });
      return name;
    });
  }

  private floatScalar(value: number, dataType: OnnxTensor['dataType']): string {
    return this.memoize(`f${dataType}:${value}`, () => {
      const name = this.fresh('const');
      const arr = dataType === OnnxDataType.DOUBLE ? Float64Array.of(value) : Float32Array.of(value);
      this.initializers.push({ name, dataType, dims: [], rawData: new Uint8Array(arr.buffer) });
      return name;
    });
  }

  /** A dim's run-time size as a 1-D int64 tensor of one element. */
  private dim(k: number): string {
    const d = this.dims[k]!;
    return this.memoize(`dim:${d.name}`, () => {
      if ('input' in d.from) {
        const { input, axis } = d.from;
        return this.op(
          'Shape',
          [input],
          [
            { name: 'start', type: 'int', value: axis },
            { name: 'end', type: 'int', value: axis + 1 },
          ],
        );
      }
      const parts = d.from.sum.map((n) => this.dim(this.dims.findIndex((x) => x.name === n)));
      return parts.reduce((a, b) => this.op('Add', [a, b]));
    });
  }

  private expr(e: Expr): string {
    return this.memoize(`expr:${e.powers.join(',')}:${e.c}:${e.d}`, () => {
      const factors = e.powers.flatMap((p, k) => Array<string>(p).fill(this.dim(k)));
      let v = factors.reduce((a, b) => this.op('Mul', [a, b]));
      if (e.c !== 1) v = this.op('Mul', [v, this.int64s([e.c])]);
      if (e.d !== 0) v = this.op('Add', [v, this.int64s([e.d])]);
      return v;
    });
  }

  /** A rank-0 int64 tensor holding the size. */
  private scalar(e: Size): string {
    if (typeof e === 'number') return this.int64s([e], []);
    return this.memoize(`scalar:${e.powers.join(',')}:${e.c}:${e.d}`, () => this.op('Squeeze', [this.expr(e)]));
  }

  /** A 1-D shape vector whose elements are numbers (static) or expressions. */
  private vector(elements: Size[]): string {
    const key = `vec:${JSON.stringify(elements)}`;
    return this.memoize(key, () => {
      const parts: string[] = [];
      let run: number[] = [];
      for (const el of elements) {
        if (typeof el === 'number') run.push(el);
        else {
          if (run.length) parts.push(this.int64s(run));
          run = [];
          parts.push(this.expr(el));
        }
      }
      if (run.length) parts.push(this.int64s(run));
      return parts.length === 1 ? parts[0]! : this.op('Concat', parts, [{ name: 'axis', type: 'int', value: 0 }]);
    });
  }

  /** keep[i, j] = j ≤ i + (cols − rows): query i sees keys up to its own position, aligned to the end. */
  private causalMask(rows: Size, cols: Size): string {
    return this.memoize(`causal:${JSON.stringify([rows, cols])}`, () => {
      const zero = this.int64s([0], []),
        one = this.int64s([1], []);
      const r = this.op('Range', [zero, this.scalar(rows), one]); // (R)
      const c = this.op('Range', [zero, this.scalar(cols), one]); // (C)
      const last = this.op('Add', [r, this.op('Sub', [this.scalar(cols), this.scalar(rows)])]); // (R)
      return this.op('LessOrEqual', [c, this.op('Unsqueeze', [last, this.int64s([1])])]); // (R, C)
    });
  }
}
