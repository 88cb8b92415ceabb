// Test support for the loss tests: plain-JS float64 math written independently of the graph code
// (the expected values), seeded data, and runners for the reference interpreter and onnxruntime.
import assert from 'node:assert/strict';
import { grad } from '../../autodiff/index.ts';
import { topoSort, type Tensor } from '../../graph/index.ts';
import { hostTensor, toNumbers, type HostTensor } from '../../runtime/host.ts';
import { mulberry32 } from '../../runtime/random.ts';
import { ReferenceExecutor } from '../../runtime/reference.ts';

// ---------------------------------------------------------------- plain-JS math
export const softmaxJs = (xs: readonly number[], temperature = 1): number[] => {
  const z = xs.map((x) => x / temperature);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
export const logSoftmaxJs = (xs: readonly number[], temperature = 1): number[] =>
  softmaxJs(xs, temperature).map(Math.log);

/** KL(a‖b) = Σ a·log(a/b), with 0·log 0 = 0. */
export const klJs = (a: readonly number[], b: readonly number[]): number =>
  a.reduce((s, ai, i) => (ai === 0 ? s : s + ai * Math.log(ai / b[i]!)), 0);
const mix = (a: readonly number[], b: readonly number[], w: number) => a.map((ai, i) => w * ai + (1 - w) * b[i]!);

/** Divergence between teacher p and student q as probability vectors, from the papers' definitions. */
export function divergenceJs(kind: string, p: readonly number[], q: readonly number[], beta = 0.5, skew = 0.1): number {
  switch (kind) {
    case 'forwardKl':
      return klJs(p, q);
    case 'reverseKl':
      return klJs(q, p);
    case 'jsd': {
      if (beta === 0) return klJs(p, q);
      if (beta === 1) return klJs(q, p);
      const m = mix(p, q, beta);
      return beta * klJs(p, m) + (1 - beta) * klJs(q, m);
    }
    case 'skewKl':
      return klJs(p, mix(p, q, skew));
    case 'skewReverseKl':
      return klJs(q, mix(q, p, skew));
  }
  throw new Error(`unknown divergence ${kind}`);
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
export const rows = (xs: readonly number[], width: number): number[][] =>
  Array.from({ length: xs.length / width }, (_, i) => xs.slice(i * width, (i + 1) * width));

/** Seeded values, uniform in [-scale, scale]. */
export function randomValues(n: number, seed: number, scale = 1): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

// ---------------------------------------------------------------- running graphs
const reference = new ReferenceExecutor();

export const f64 = (shape: readonly number[], values: ArrayLike<number>): HostTensor =>
  hostTensor('float64', shape, values);
export const i64 = (shape: readonly number[], values: ArrayLike<number>): HostTensor =>
  hostTensor('int64', shape, values);

/** Runs outputs on the reference interpreter; values come back as plain numbers. */
export async function runRef(
  outputs: Record<string, Tensor>,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, number[]>> {
  const res = await (await reference.compile(outputs)).run(feeds);
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, [...toNumbers(v)]]));
}

export function assertClose(got: number, want: number, tol: number, what: string): void {
  assert.ok(
    Number.isFinite(got) && Math.abs(got - want) <= tol * (1 + Math.abs(want)),
    `${what}: got ${got}, want ${want} (tol ${tol})`,
  );
}

/**
 * Central finite differences on the reference interpreter for a float64 scalar `loss` with respect to
 * the named leaves (inputs or parameters), for graphs checkGrads cannot build (parameters inside a Module).
 */
export async function finiteDifferenceCheck(
  loss: Tensor,
  feeds: Record<string, HostTensor>,
  wrt: readonly string[],
  tol = 1e-6,
  h = 1e-6,
): Promise<number> {
  const leaves = new Map(
    topoSort([loss])
      .filter((t) => t.leaf)
      .map((t) => [t.name!, t]),
  );
  const targets = wrt.map((n) => {
    const t = leaves.get(n);
    assert.ok(t, `finiteDifferenceCheck: '${n}' is not a leaf of the loss (leaves: ${[...leaves.keys()].join(', ')})`);
    return t;
  });
  const grads = grad(loss, targets);
  const analytic = await runRef(Object.fromEntries(grads.map((g, i) => [`d${i}`, g])), feeds);
  const forward = await reference.compile({ loss });
  let checked = 0;
  for (const [i, name] of wrt.entries()) {
    const base = feeds[name]!;
    for (let j = 0; j < base.data.length; j++) {
      const at = async (delta: number) => {
        const data = Float64Array.from(base.data as Float64Array);
        data[j] += delta;
        return toNumbers((await forward.run({ ...feeds, [name]: f64(base.shape, data) })).loss!)[0]!;
      };
      const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
      assertClose(analytic[`d${i}`]![j]!, numeric, tol, `d loss / d ${name}[${j}]`);
      checked++;
    }
  }
  return checked;
}
