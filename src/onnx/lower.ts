// Lowers a traced graph to an ONNX model by asking each op's lowering rule to emit its nodes.
// Leaves become graph inputs (fed per run) or initializers (baked in, for export).
import {
  topoSort,
  type DType,
  type LowerCtx,
  type LoweredAttr,
  type SubgraphAttr,
  type SubgraphSpec,
  type SubgraphValue,
  type Tensor,
} from '../graph/index.ts';
import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './model.ts';
import { hostArray, hostToOnnx, ndarrayToOnnx, onnxTypeOf, type HostArray } from './host.ts';

export const DEFAULT_OPSET = 20;

export interface LowerOptions {
  name?: string;
  /** Parameters to bake in as initializers (by name); the rest stay graph inputs. */
  initializers?: ReadonlyMap<string, HostArray>;
  /** Allow com.microsoft contrib ops (onnxruntime has them; other runtimes may not). Default true. */
  contribOps?: boolean;
  /** Symbolic names for dimensions of inputs/outputs, e.g. {input_ids: ['batch', 'seq']}. */
  dynamicDims?: Record<string, (string | null)[]>;
  metadata?: Record<string, string>;
}

export interface IoSpec {
  name: string;
  shape: number[];
  dtype: DType;
  kind: 'input' | 'param' | 'random' | 'output';
}

export interface LoweredGraph {
  model: OnnxModel;
  /** Everything the graph must be fed, in graph-input order. */
  inputs: IoSpec[];
  outputs: IoSpec[];
}

/** Subgraphs built by LowerCtx.subgraph, behind the opaque handle ops carry in their attributes. */
const builtSubgraphs = new WeakMap<SubgraphAttr, OnnxGraph>();

function toAttribute(name: string, a: LoweredAttr): OnnxAttribute {
  if ('int' in a) return { name, type: 'int', value: a.int };
  if ('float' in a) return { name, type: 'float', value: a.float };
  if ('ints' in a) return { name, type: 'ints', value: a.ints };
  if ('floats' in a) return { name, type: 'floats', value: a.floats };
  if ('string' in a) return { name, type: 'string', value: a.string };
  if ('graph' in a) {
    const g = builtSubgraphs.get(a.graph);
    if (!g) throw new Error(`lowerGraph: attribute '${name}' holds a subgraph this lowering did not build`);
    return { name, type: 'graph', value: g };
  }
  return { name, type: 'tensor', value: ndarrayToOnnx('', a.tensor) };
}

export function lowerGraph(outputs: Record<string, Tensor>, opts: LowerOptions = {}): LoweredGraph {
  const contribOps = opts.contribOps ?? true;
  const initializers: OnnxTensor[] = [];
  const constCache = new Map<string, string>();
  const graphInputs: IoSpec[] = [];
  const usedNames = new Set<string>();
  let counter = 0;
  let usedContrib = false;

  // One counter for every scope: ONNX forbids a subgraph value from reusing an outer graph's name.
  const fresh = (base: string) => `${base}_${counter++}`;
  // Constants live in the top graph, subgraphs included: outer names are visible inside them.
  const constant = (key: string, make: (name: string) => OnnxTensor): string => {
    let name = constCache.get(key);
    if (!name) {
      name = fresh('const');
      initializers.push(make(name));
      constCache.set(key, name);
    }
    return name;
  };

  /** A context that emits into `nodes` (the top graph's, or a subgraph's). */
  const contextFor = (nodes: OnnxNode[]): LowerCtx => {
    const ctx: LowerCtx = {
      contribOps,
      emit(opType, inputs, attrs = {}, o = {}) {
        const outs = Array.from({ length: o.outputs ?? 1 }, () => fresh(opType));
        if (o.domain === 'com.microsoft') usedContrib = true;
        nodes.push({
          opType,
          domain: o.domain ?? '',
          name: fresh(`n_${opType}`),
          inputs,
          outputs: outs,
          attributes: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
        });
        return outs;
      },
      op(opType, inputs, attrs, domain) {
        return ctx.emit(opType, inputs, attrs, { domain })[0]!;
      },
      int64s: (values) =>
        constant(`i64:${values.join(',')}`, (n) => hostToOnnx(n, 'int64', [values.length], hostArray('int64', values))),
      scalar: (value, dtype) =>
        constant(`${dtype}:${value}`, (n) => hostToOnnx(n, dtype, [], hostArray(dtype, [value]))),
      onnxType: (dtype) => onnxTypeOf[dtype],
      subgraph(spec: SubgraphSpec): SubgraphAttr {
        const body: OnnxNode[] = [];
        const sub = contextFor(body);
        const lower = (tensors: readonly Tensor[], bound: ReadonlyMap<Tensor, string>) => {
          const local = new Map<number, string>();
          for (const [t, name] of bound) local.set(t.id, name);
          for (const t of topoSort(tensors)) {
            if (local.has(t.id)) continue;
            if (t.leaf === 'constant')
              local.set(
                t.id,
                constant(`t${t.id}`, (n) => ndarrayToOnnx(n, t.value!)),
              );
            else if (t.leaf)
              throw new Error(
                `lowerGraph: ${t} is a leaf of a subgraph but was not bound to a value there; bind it to a formal input or an outer name`,
              );
            else
              local.set(
                t.id,
                t.def!.lower(
                  sub,
                  t.inputs.map((i) => local.get(i.id)!),
                  t.attrs,
                  t,
                ),
              );
          }
          return tensors.map((t) => local.get(t.id)!);
        };
        const outs = spec.build(sub, lower);
        const info = (v: SubgraphValue): OnnxValueInfo => ({
          name: v.name,
          elemType: onnxTypeOf[v.dtype],
          shape: [...v.shape],
        });
        const handle: SubgraphAttr = { subgraph: true };
        builtSubgraphs.set(handle, {
          name: fresh('body'),
          nodes: body,
          initializers: [],
          inputs: spec.inputs.map(info),
          outputs: outs.map(info),
        });
        return handle;
      },
    };
    return ctx;
  };

  const nodes: OnnxNode[] = [];
  const ctx = contextFor(nodes);
  const names = new Map<number, string>();

  const claim = (name: string, t: Tensor) => {
    if (usedNames.has(name))
      throw new Error(`lowerGraph: two different tensors are named '${name}' (${t}); give leaves unique names`);
    usedNames.add(name);
  };

  for (const t of topoSort(Object.values(outputs))) {
    if (t.leaf === 'constant') {
      names.set(
        t.id,
        constant(`t${t.id}`, (n) => ndarrayToOnnx(n, t.value!)),
      );
    } else if (t.leaf) {
      const name = t.leaf === 'random' ? `random.${t.name}` : t.name!;
      claim(name, t);
      names.set(t.id, name);
      const baked = t.leaf === 'param' ? opts.initializers?.get(name) : undefined;
      if (baked) {
        if (baked.length !== t.size)
          throw new Error(
            `lowerGraph: initializer '${name}' has ${baked.length} values, the parameter needs ${t.size}`,
          );
        initializers.push(hostToOnnx(name, t.dtype, t.shape, baked));
      } else {
        graphInputs.push({ name, shape: [...t.shape], dtype: t.dtype, kind: t.leaf });
      }
    } else {
      const inputNames = t.inputs.map((i) => names.get(i.id)!);
      names.set(t.id, t.def!.lower(ctx, inputNames, t.attrs, t));
    }
  }

  // Graph outputs take over the name of the value that computes them, so no Identity copies a
  // training step's parameters and optimizer state on the way out. Leaves, constants and a value
  // exported under two names still go through Identity.
  const outSpecs: IoSpec[] = [];
  const renames = new Map<string, string>();
  const renamedIds = new Set<number>();
  for (const [name, t] of Object.entries(outputs)) {
    claim(name, t);
    const current = names.get(t.id)!;
    if (!t.leaf && !renamedIds.has(t.id)) {
      renamedIds.add(t.id);
      renames.set(current, name);
    } else {
      nodes.push({
        opType: 'Identity',
        domain: '',
        name: fresh('n_out'),
        inputs: [renames.get(current) ?? current],
        outputs: [name],
        attributes: [],
      });
    }
    outSpecs.push({ name, shape: [...t.shape], dtype: t.dtype, kind: 'output' });
  }
  if (renames.size > 0) {
    const rename = (n: string) => renames.get(n) ?? n;
    // Subgraph nodes read outer values by name, so they are renamed too (their own values never are:
    // every name is unique across scopes).
    const renameIn = (list: OnnxNode[]) => {
      for (const node of list) {
        node.inputs = node.inputs.map(rename);
        node.outputs = node.outputs.map(rename);
        for (const a of node.attributes) if (a.type === 'graph') renameIn(a.value.nodes);
      }
    };
    renameIn(nodes);
  }

  const valueInfo = (s: IoSpec): OnnxValueInfo => ({
    name: s.name,
    elemType: onnxTypeOf[s.dtype],
    shape: s.shape.map((d, i) => opts.dynamicDims?.[s.name]?.[i] ?? d),
  });
  const opsetImports = [{ domain: '', version: DEFAULT_OPSET }];
  if (usedContrib) opsetImports.push({ domain: 'com.microsoft', version: 1 });
  const model: OnnxModel = {
    irVersion: 9,
    opsetImports,
    producerName: 'retort',
    producerVersion: '0.1.0',
    graph: {
      name: opts.name ?? 'retort',
      nodes,
      initializers,
      inputs: graphInputs.map(valueInfo),
      outputs: outSpecs.map(valueInfo),
    },
    metadata: opts.metadata,
  };
  return { model, inputs: graphInputs, outputs: outSpecs };
}
