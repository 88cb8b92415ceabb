// Reverse-mode autodiff over the traced graph: a topological order and a reversed walk
// (micrograd's backward()), where each op's rule in its OpDef builds the gradient nodes.
// Only nodes on a path from a wrt tensor to the loss get gradients, so unused branches cost nothing.
import { expand, isFloat, scalar, topoSort, type Tensor } from '../graph/index.ts';
import { sumContributions } from './accumulate.ts';

export class GradError extends Error {
  override name = 'GradError';
}

/**
 * Gradients of `output` with respect to each tensor in `wrt`. `output` must be a float scalar
 * unless `seed` (the gradient flowing into it, same shape) is given. A wrt tensor the output does
 * not depend on gets zeros.
 */
export function grad(output: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  if (!isFloat(output.dtype)) throw new GradError(`grad: the output must be a float tensor, got ${output.dtype}`);
  if (!seed && output.size !== 1) {
    throw new GradError(
      `grad: the output has shape [${output.shape.join(', ')}]; reduce it to a scalar (reduceSum/reduceMean) or pass a seed gradient`,
    );
  }
  const order = topoSort([output]);
  const wanted = new Set(wrt.map((t) => t.id));
  const onPath = new Set<number>();
  for (const t of order) {
    if (wanted.has(t.id) || t.inputs.some((i) => onPath.has(i.id))) onPath.add(t.id);
  }

  // Contributions are summed only when the tensor's gradient is needed, so the sum can be built
  // with knowledge of all of them (see accumulate.ts).
  const parts = new Map<number, Tensor[]>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const list = parts.get(t.id);
    if (list) list.push(g);
    else parts.set(t.id, [g]);
  };
  const gradOf = (t: Tensor): Tensor | undefined => {
    const list = parts.get(t.id);
    return list ? sumContributions(list) : undefined;
  };
  accumulate(output, seed ?? expand(scalar(1, output.dtype), output.shape));

  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    if (!t.def || !onPath.has(t.id) || !parts.has(t.id)) continue;
    const g = gradOf(t)!;
    const needed = t.inputs.map((i) => onPath.has(i.id) && isFloat(i.dtype));
    if (!needed.some(Boolean)) continue;
    if (!t.def.grad) {
      throw new GradError(
        `grad: op '${t.def.name}' has no gradient rule, but ${t} lies between the parameters and the output; add a grad rule to its OpDef or stop the gradient before it`,
      );
    }
    const gs = t.def.grad({ g, out: t, inputs: t.inputs, attrs: t.attrs });
    t.inputs.forEach((input, i) => {
      const gi = gs[i];
      if (!needed[i] || !gi) return;
      if (gi.shape.length !== input.shape.length || gi.shape.some((d, j) => d !== input.shape[j])) {
        throw new GradError(
          `grad: the rule of '${t.def!.name}' returned a gradient of shape [${gi.shape.join(', ')}] for input ${i} of shape [${input.shape.join(', ')}]`,
        );
      }
      accumulate(input, gi);
    });
  }
  return wrt.map((w) => gradOf(w) ?? expand(scalar(0, w.dtype), w.shape));
}
