// Gradient rules against finite differences (every differentiable op case of
// src/graph/ops/cases.ts, in float64 on the reference interpreter), and the autodiff engine itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  abs,
  add,
  allOps,
  apply,
  stopGradient,
  constant,
  exp,
  greater,
  input,
  isFloat,
  layerNorm,
  matmul,
  mul,
  ndarray,
  reduceSum,
  softmax,
  tanh,
  topoSort,
  where,
  type OpDef,
  type Tensor,
} from '../graph/index.ts';
import { opCases, sampleInput } from '../graph/ops/cases.ts';
import { hostTensor, toNumbers } from '../runtime/host.ts';
import { mulberry32 } from '../runtime/random.ts';
import { ReferenceExecutor } from '../runtime/reference.ts';
import { grad, GradError } from './grad.ts';
import { checkGrads, GradCheckError, type GradCheckInput } from '../runtime/gradcheck.ts';

/** Ops whose grad is null by design: boolean or integer outputs, or piecewise constant. */
const NON_DIFFERENTIABLE = [
  // chunkLoop and loopOutput: gradients reach their inputs through attachGrad (the loop computes them itself).
  'chunkLoop',
  'equal',
  'greater',
  'greaterEqual',
  'less',
  'lessEqual',
  'logicalNot',
  'loopOutput',
  'oneHot',
  'topKIndices',
  'topKValues',
];

const reference = new ReferenceExecutor();
async function evaluate(
  outputs: Record<string, Tensor>,
  feeds: Record<string, number[]>,
): Promise<Record<string, number[]>> {
  const prog = await reference.compile(outputs);
  const hostFeeds = Object.fromEntries(prog.inputs.map((s) => [s.name, hostTensor(s.dtype, s.shape, feeds[s.name]!)]));
  const res = await prog.run(hostFeeds);
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, [...toNumbers(v)]]));
}

const close = (got: number[], want: number[], what: string) => {
  assert.equal(got.length, want.length, what);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]!) <= 1e-12 * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${v} vs ${want[i]}`),
  );
};

// ---------------------------------------------------------------- gradient rules vs finite differences
test('ops without a gradient rule are exactly the non-differentiable set', () => {
  const none = Object.entries(allOps)
    .filter(([, d]) => d.grad === null)
    .map(([k]) => k)
    .sort();
  assert.deepEqual(none, NON_DIFFERENTIABLE);
});

/** Ops whose gradient differs from the function's derivative on purpose; tested on their own below. */
const NOT_A_DERIVATIVE = ['stopGradient'];

/** Cases with a float input and a float output, whose op has a rule: the ones finite differences apply to. */
const gradCases = opCases.filter((c) => {
  if (allOps[c.op]!.grad === null || NOT_A_DERIVATIVE.includes(c.op) || !c.inputs.some((s) => isFloat(s.dtype)))
    return false;
  return isFloat(
    c.build(...c.inputs.map((s, i) => input(`x${i}`, s.shape, isFloat(s.dtype) ? 'float64' : s.dtype))).dtype,
  );
});

test('every differentiable op has a finite-difference case', () => {
  const checked = new Set(gradCases.map((c) => c.op));
  const missing = Object.keys(allOps).filter(
    (k) => !NON_DIFFERENTIABLE.includes(k) && !NOT_A_DERIVATIVE.includes(k) && !checked.has(k),
  );
  assert.deepEqual(missing, [], `differentiable ops with no case that has a float input: ${missing.join(', ')}`);
});

gradCases.forEach((c, k) => {
  test(`checkGrads ${c.op}: ${c.name}`, async () => {
    const rand = mulberry32(2000 + k);
    const inputs: GradCheckInput[] = c.inputs.map((s) => ({
      shape: s.shape,
      dtype: isFloat(s.dtype) ? 'float64' : s.dtype,
      values: sampleInput(s, rand),
    }));
    await checkGrads(c.build, inputs, { ...c.gradcheck, seed: k });
  });
});

// Second order: gradient rules are built from ops, so they must be differentiable in turn. For each
// case, d/dx of ⟨v, ∂loss/∂x⟩ (a Hessian-vector product) is checked against finite differences.
// Keyed by op, or by 'op: case name'.
const SECOND_ORDER_SKIP: Record<string, string> = {
  'attachGrad: a loop that computes its own gradient':
    "the gradient a chunked loop computes is one of the loop's outputs, which have no rule of their own: chunked losses are differentiated once, which training needs",
};

/** Σᵢ ⟨vᵢ, ∂(Σ w ⊙ build(xs))/∂xᵢ⟩ over the float inputs, with fixed w and vᵢ. */
function gradientDotV(build: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => Tensor {
  const fixed = (t: Tensor, phase: number) =>
    constant(
      ndarray(
        t.shape,
        t.dtype,
        Array.from({ length: t.size }, (_, j) => Math.sin(1.7 * j + phase)),
      ),
    );
  return (...xs) => {
    const out = build(...xs);
    const floats = xs.filter((x) => isFloat(x.dtype));
    const gs = grad(reduceSum(mul(out, fixed(out, 0))), floats);
    return gs.map((g, i) => reduceSum(mul(g, fixed(g, i + 1)))).reduce((a, b) => add(a, b));
  };
}

gradCases.forEach((c, k) => {
  const skip = SECOND_ORDER_SKIP[`${c.op}: ${c.name}`] ?? SECOND_ORDER_SKIP[c.op];
  test(`second order ${c.op}: ${c.name}`, { skip }, async () => {
    const rand = mulberry32(3000 + k);
    const inputs: GradCheckInput[] = c.inputs.map((s) => ({
      shape: s.shape,
      dtype: isFloat(s.dtype) ? 'float64' : s.dtype,
      values: sampleInput(s, rand),
    }));
    await checkGrads(gradientDotV(c.build), inputs, { ...c.gradcheck, seed: k });
  });
});

test('sign passes no gradient, so abs is differentiable twice (its second derivative is zero)', async () => {
  const x = input('x', [3], 'float64');
  const [d2] = grad(gradientDotV(abs)(x), [x]);
  close((await evaluate({ d2: d2! }, { x: [1.5, -2, 0.5] })).d2!, [0, 0, 0], 'd2');
});

test('second order: the gradient graph of a small network is itself differentiable and correct', async () => {
  // The gradient (scaled by eˣ) differentiated again, through the rules of matmul, layerNorm, tanh and softmax.
  await checkGrads(
    (x, w, g) => {
      const h = softmax(tanh(layerNorm(matmul(x!, w!), g!)));
      const [dx] = grad(reduceSum(mul(h, h)), [x!]);
      return mul(dx!, exp(x!));
    },
    [[2, 3], [3, 4], [4]],
    { tol: 1e-5 },
  );
});

// ---------------------------------------------------------------- checkGrads itself
test('checkGrads catches a wrong gradient rule and names the input and element', async () => {
  // Claims d(2x)/dx = 3: a rule off by 50%.
  const wrong: OpDef<undefined> = {
    name: 'double',
    infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
    ref: ([x]) => ({ ...x!, data: x!.data.map((v) => 2 * v) }),
    grad: ({ g }) => [mul(g, 3)],
    lower: (ctx, [x]) => ctx.op('Add', [x!, x!]),
  };
  await assert.rejects(
    checkGrads((x) => apply(wrong, [x], undefined), [[2, 2]]),
    (e: Error) => {
      assert.ok(e instanceof GradCheckError);
      assert.match(e.message, /input 0 \[0, 0\]: autodiff .* central differences/);
      assert.match(e.message, /VJP identity/);
      return true;
    },
  );
});

test('checkGrads samples large inputs and still checks every element through the VJP identity', async () => {
  const res = await checkGrads((x) => tanh(x), [[20, 20]], { maxPerInput: 10 });
  assert.equal(res.elements, 10);
  assert.ok(Math.abs(res.vjp.analytic - res.vjp.numeric) < 1e-6);
});

test('checkGrads wants values for integer inputs and a float64 result', async () => {
  await assert.rejects(
    checkGrads((x) => x, [{ shape: [2], dtype: 'int64' }]),
    /input 0 is int64; give its values/,
  );
  await assert.rejects(
    checkGrads((x) => mul(x, x), [{ shape: [2], dtype: 'float64', values: [1, 2, 3] }]),
    /3 values for shape \[2\]/,
  );
});

// ---------------------------------------------------------------- the autodiff engine
test('a tensor used twice accumulates both gradients', async () => {
  const x = input('x', [3], 'float64');
  const [dx] = grad(reduceSum(mul(x, x)), [x]); // 2x
  const y = tanh(x);
  const [dy] = grad(reduceSum(add(mul(y, y), y)), [x]); // (2y + 1)(1 − y²)
  const xs = [0.5, -1.25, 2];
  const res = await evaluate({ dx: dx!, dy: dy! }, { x: xs });
  close(
    res.dx!,
    xs.map((v) => 2 * v),
    'd(x·x)',
  );
  close(
    res.dy!,
    xs.map((v) => {
      const t = Math.tanh(v);
      return (2 * t + 1) * (1 - t * t);
    }),
    'd(y² + y)',
  );
});

test('unused branches add no nodes to the gradient graph', () => {
  const x = input('x', [2, 3], 'float64'),
    w = input('w', [2, 3], 'float64'),
    y = input('y', [4], 'float64');
  const main = reduceSum(mul(x, w));
  const withBranch = add(main, reduceSum(exp(tanh(y))));
  const reachable = (t: Tensor) => topoSort([t]);
  const [dx] = grad(withBranch, [x]);
  const [dxPlain] = grad(main, [x]);
  const ops = (t: Tensor) =>
    reachable(t)
      .filter((n) => n.def)
      .map((n) => n.opName)
      .sort();
  // Σ x⊙w → dx = expand(reshape(1)) ⊙ w: the side branch (y) contributes nothing, not even a zero.
  assert.deepEqual(ops(dx!), ['expand', 'mul', 'reshape']);
  assert.deepEqual(ops(dx!), ops(dxPlain!));
  assert.ok(!reachable(dx!).includes(y), 'the gradient must not depend on the unused input y');
});

test('a wrt tensor the output does not depend on gets zeros of its shape', async () => {
  const x = input('x', [2], 'float64'),
    u = input('u', [2, 3], 'float64');
  const [dx, du] = grad(reduceSum(mul(x, x)), [x, u]);
  assert.deepEqual(du!.shape, [2, 3]);
  assert.equal(du!.dtype, 'float64');
  const res = await evaluate({ dx: dx!, du: du! }, { x: [1, -2] });
  close(res.du!, [0, 0, 0, 0, 0, 0], 'du');
  close(res.dx!, [2, -4], 'dx');
});

test('a non-scalar output needs a seed, and with one gives the vector-Jacobian product', async () => {
  const x = input('x', [2, 3], 'float64');
  const y = mul(x, x);
  assert.throws(
    () => grad(y, [x]),
    (e: Error) => e instanceof GradError && /shape \[2, 3\].*reduceSum.*seed/.test(e.message),
  );
  const seed = input('s', [2, 3], 'float64');
  const [dx] = grad(y, [x], seed);
  const xs = [1, 2, 3, -1, -2, -3],
    ss = [1, 0, -1, 0.5, 2, 1];
  const res = await evaluate({ dx: dx! }, { x: xs, s: ss });
  close(
    res.dx!,
    xs.map((v, i) => 2 * v * ss[i]!),
    'dx',
  );
});

test('grad refuses an integer output', () => {
  const ids = input('ids', [3], 'int64');
  assert.throws(() => grad(reduceSum(ids), [ids]), /output must be a float tensor, got int64/);
});

test('an op without a gradient rule on the path is an error naming the op', () => {
  const x = input('x', [3], 'float64');
  const ruleless = apply({ ...allOps.exp!, name: 'ruleless', grad: null }, [x], undefined);
  assert.throws(
    () => grad(reduceSum(mul(ruleless, x)), [x]),
    (e: Error) => e instanceof GradError && /op 'ruleless' has no gradient rule/.test(e.message),
  );
});

test('an op without a gradient rule is fine where no gradient reaches it', async () => {
  const x = input('x', [4], 'float64');
  const leaky = where(greater(x, 0), x, mul(x, 0.1)); // greater has no rule, but where sends it nothing
  const [dx] = grad(reduceSum(leaky), [x]);
  close((await evaluate({ dx: dx! }, { x: [1, -1, 2, -3] })).dx!, [1, 0.1, 1, 0.1], 'dx');
});

test('a rule returning a gradient of the wrong shape is an error naming the op', () => {
  const bad: OpDef<undefined> = {
    name: 'badRule',
    infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
    ref: ([x]) => ({ ...x!, data: x!.data.slice() }),
    grad: ({ g }) => [reduceSum(g)],
    lower: (ctx, [x]) => ctx.op('Identity', [x!]),
  };
  const x = input('x', [2, 2], 'float64');
  assert.throws(
    () => grad(reduceSum(apply(bad, [x], undefined)), [x]),
    /rule of 'badRule' returned a gradient of shape \[\] for input 0 of shape \[2, 2\]/,
  );
});

test('stopGradient passes the value and blocks the gradient', async () => {
  const x = input('x', [3], 'float64');
  const y = add(mul(x, x), stopGradient(mul(x, 3))); // value x² + 3x, gradient 2x
  const [dx] = grad(reduceSum(y), [x]);
  const res = await evaluate({ y, dx: dx! }, { x: [1, -2, 0.5] });
  close(res.y!, [4, -2, 1.75], 'y');
  close(res.dx!, [2, -4, 1], 'dx');
});
