// Checks gradients the way JAX's check_grads does, on the float64 reference interpreter:
// the analytic vector-Jacobian product from `grad` against central finite differences.
//
// With a fixed random cotangent w, loss(x) = Σ w ⊙ f(x), so ∂loss/∂x = Jᵀw (the VJP). Two checks:
//  1. per element: (loss(x + h·eᵢ) − loss(x − h·eᵢ)) / 2h against (Jᵀw)ᵢ;
//  2. the VJP identity along a random direction v over all inputs at once:
//     ⟨w, J·v⟩ ≈ (loss(x + h·v) − loss(x − h·v)) / 2h  against  ⟨Jᵀw, v⟩ = Σ (Jᵀw) ⊙ v.
// Differences are taken on f's outputs before they are weighted, so large constant outputs (a
// causal mask's −1e9) cancel exactly instead of swamping the step.
import { constant, input, isFloat, mul, ndarray, reduceSum, type DType, type Tensor } from '../graph/index.ts';
import { unravel } from '../graph/ndarray.ts';
// Straight from the modules, not ./index.ts: checking gradients needs no onnxruntime.
import { hostTensor, toNumbers, type HostTensor } from './host.ts';
import { mulberry32 } from './random.ts';
import { ReferenceExecutor } from './reference.ts';
import { grad } from '../autodiff/grad.ts';

export interface GradCheckInput {
  shape: readonly number[];
  /** Float inputs (any float dtype) are checked in float64; int and bool inputs are held fixed. Default float. */
  dtype?: DType;
  /** Required for int and bool inputs; float inputs default to seeded uniform values in [-1, 1]. */
  values?: ArrayLike<number>;
}

export interface CheckGradsOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Passes when |analytic − numeric| ≤ tol·(1 + |numeric|). Default 1e-5. */
  tol?: number;
  /** Seeds the cotangent, the direction and default input values. Default 0. */
  seed?: number;
  /** Per-element differences for at most this many elements of each input (a seeded sample of larger ones). Default 64. */
  maxPerInput?: number;
}

export interface GradCheckResult {
  /** Elements checked one by one, over all inputs. */
  elements: number;
  /** The largest error over them, as tol measures it. */
  maxError: number;
  /** ⟨Jᵀw, v⟩ from autodiff, and ⟨w, J·v⟩ from central differences. */
  vjp: { analytic: number; numeric: number };
}

export class GradCheckError extends Error {
  override name = 'GradCheckError';
}

type Spec = Required<GradCheckInput>;

function normalize(raw: readonly number[] | GradCheckInput, i: number, rand: () => number): Spec {
  const spec: GradCheckInput = Array.isArray(raw) ? { shape: raw as readonly number[] } : (raw as GradCheckInput);
  const dtype = spec.dtype ?? 'float64';
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (!isFloat(dtype) && !spec.values)
    throw new GradCheckError(
      `checkGrads: input ${i} is ${dtype}; give its values (only float inputs are drawn at random)`,
    );
  const values = spec.values ?? Array.from({ length: n }, () => 2 * rand() - 1);
  if (values.length !== n)
    throw new GradCheckError(
      `checkGrads: input ${i} has ${values.length} values for shape [${spec.shape.join(', ')}] (${n} elements)`,
    );
  return { shape: [...spec.shape], dtype: isFloat(dtype) ? 'float64' : dtype, values };
}

/** k distinct indices below n (all of them when k ≥ n), in order. */
function sample(n: number, k: number, rand: () => number): number[] {
  const all = [...Array(n).keys()];
  if (k >= n) return all;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}

/**
 * Builds `build` over float64 inputs of the given shapes, and checks the gradients autodiff gives
 * for every float input against central finite differences. Throws GradCheckError naming the input,
 * the element and both values when they differ; returns what was checked otherwise.
 */
export async function checkGrads(
  build: (...xs: Tensor[]) => Tensor,
  inputs: ReadonlyArray<readonly number[] | GradCheckInput>,
  opts: CheckGradsOptions = {},
): Promise<GradCheckResult> {
  const { eps = 1e-6, tol = 1e-5, seed = 0, maxPerInput = 64 } = opts;
  const rand = mulberry32(seed);
  const specs = inputs.map((s, i) => normalize(s, i, rand));
  const xs = specs.map((s, i) => input(`x${i}`, s.shape, s.dtype));
  const out = build(...xs);
  if (out.dtype !== 'float64') {
    throw new GradCheckError(
      `checkGrads: build returned ${out}; from float64 inputs it must compute in float64 (cast to x.dtype, not to 'float32')`,
    );
  }
  const floats = xs.map((_, i) => i).filter((i) => isFloat(specs[i]!.dtype));
  if (floats.length === 0) throw new GradCheckError('checkGrads: no float input to differentiate with respect to');

  const w = Float64Array.from({ length: out.size }, () => 2 * rand() - 1);
  const loss = reduceSum(mul(out, constant(ndarray(out.shape, 'float64', w))));
  const grads = grad(
    loss,
    floats.map((i) => xs[i]!),
  );

  const executor = new ReferenceExecutor();
  const forward = await executor.compile({ out });
  const backward = await executor.compile(Object.fromEntries(grads.map((g, k) => [`d${k}`, g])));
  const feeds: Record<string, HostTensor> = Object.fromEntries(
    specs.map((s, i) => [
      `x${i}`,
      hostTensor(s.dtype, s.shape, s.dtype === 'float64' ? Float64Array.from(s.values) : s.values),
    ]),
  );
  const analytic = await backward.run(feeds);
  const g = floats.map((_, k) => toNumbers(analytic[`d${k}`]!));

  // ⟨w, (f(x + h·d) − f(x − h·d)) / 2h⟩ for a perturbation d given per float input.
  const directional = async (dirs: Map<number, Float64Array>): Promise<number> => {
    const shifted = async (sign: number) => {
      const f: Record<string, HostTensor> = { ...feeds };
      for (const [i, d] of dirs) {
        const base = f[`x${i}`]!.data as Float64Array;
        f[`x${i}`] = hostTensor(
          'float64',
          specs[i]!.shape,
          base.map((v, j) => v + sign * eps * d[j]!),
        );
      }
      return toNumbers((await forward.run(f)).out!);
    };
    const [plus, minus] = [await shifted(1), await shifted(-1)];
    let s = 0;
    for (let j = 0; j < w.length; j++) s += w[j]! * (plus[j]! - minus[j]!);
    return s / (2 * eps);
  };

  const failures: string[] = [];
  let elements = 0,
    maxError = 0;
  for (const [k, i] of floats.entries()) {
    const n = g[k]!.length;
    for (const j of sample(n, maxPerInput, rand)) {
      const unit = new Float64Array(n);
      unit[j] = 1;
      const numeric = await directional(new Map([[i, unit]]));
      const a = g[k]![j]!;
      const err = Math.abs(a - numeric) / (1 + Math.abs(numeric));
      elements++;
      if (!(err <= maxError)) maxError = err;
      if (!(err <= tol))
        failures.push(
          `input ${i} [${unravel(j, specs[i]!.shape).join(', ')}]: autodiff ${a}, central differences ${numeric} (error ${err.toExponential(2)})`,
        );
    }
  }

  const dirs = new Map(
    floats.map((i) => [i, Float64Array.from({ length: g[floats.indexOf(i)]!.length }, () => 2 * rand() - 1)]),
  );
  const vjpNumeric = await directional(dirs);
  let vjpAnalytic = 0;
  floats.forEach((i, k) => g[k]!.forEach((v, j) => (vjpAnalytic += v * dirs.get(i)![j]!)));
  const vjpErr = Math.abs(vjpAnalytic - vjpNumeric) / (1 + Math.abs(vjpNumeric));
  if (!(vjpErr <= tol))
    failures.push(
      `VJP identity along a random direction: ⟨Jᵀw, v⟩ = ${vjpAnalytic} but ⟨w, J·v⟩ ≈ ${vjpNumeric} (error ${vjpErr.toExponential(2)})`,
    );

  if (failures.length > 0) {
    const shown = failures.slice(0, 5).join('\n  ');
    throw new GradCheckError(
      `checkGrads: ${failures.length} mismatch(es) beyond tol ${tol} (eps ${eps}) for ${out}:\n  ${shown}${failures.length > 5 ? `\n  … and ${failures.length - 5} more` : ''}`,
    );
  }
  return { elements, maxError, vjp: { analytic: vjpAnalytic, numeric: vjpNumeric } };
}
