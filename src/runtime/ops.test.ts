// Every op case of src/graph/ops/cases.ts, run through onnxruntime (float32) and the float64
// reference interpreter, forward and backward: the ONNX lowering of each op, and of each op its
// gradient rule emits, must agree with the reference kernels. Where a graph's lowering depends on
// contrib ops (FusedMatMul, SimplifiedLayerNormalization), both lowerings are checked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../autodiff/index.ts';
import { allOps, constant, input, isFloat, mul, ndarray, reduceSum, type Tensor } from '../graph/index.ts';
import { unravel } from '../graph/ndarray.ts';
import { opCases, sampleInput, type OpCase } from '../graph/ops/cases.ts';
import { encodeModel } from '../onnx/index.ts';
import { lowerGraph } from '../onnx/lower.ts';
import { hostTensor, toNumbers, type HostTensor } from './host.ts';
import { OrtExecutor } from './ort.ts';
import { mulberry32 } from './random.ts';
import { ReferenceExecutor } from './reference.ts';

const TOL = 1e-4;
const ort = new OrtExecutor();
const reference = new ReferenceExecutor();

interface Built {
  outputs: Record<string, Tensor>;
  feeds: Record<string, HostTensor>;
}

/** The case's graph over float32 inputs with seeded values, plus (if it has one) its gradient graph. */
function buildCase(c: OpCase, seed: number): { forward: Built; backward?: Built } {
  const rand = mulberry32(seed);
  const xs = c.inputs.map((s, i) => input(`x${i}`, s.shape, s.dtype));
  const feeds = Object.fromEntries(
    c.inputs.map((s, i) => [`x${i}`, hostTensor(s.dtype, s.shape, sampleInput(s, rand))]),
  );
  const out = c.build(...xs);
  const forward = { outputs: { out }, feeds };
  const floatInputs = xs.filter((x) => isFloat(x.dtype));
  if (allOps[c.op]!.grad === null || !isFloat(out.dtype) || floatInputs.length === 0) return { forward };
  // loss = Σ out ⊙ w with fixed random w, so every output element gets its own cotangent.
  const w = constant(
    ndarray(
      out.shape,
      out.dtype,
      Array.from({ length: out.size }, () => 2 * rand() - 1),
    ),
  );
  const loss = reduceSum(mul(out, w));
  const grads = grad(loss, floatInputs);
  const outputs: Record<string, Tensor> = { loss };
  floatInputs.forEach((x, k) => (outputs[`d_${x.name}`] = grads[k]!));
  return { forward, backward: { outputs, feeds } };
}

/** Lowerings to check: contrib ops on, and off too where that changes the model. */
function contribModes(outputs: Record<string, Tensor>): boolean[] {
  const bytes = (contribOps: boolean) => encodeModel(lowerGraph(outputs, { contribOps }).model);
  return Buffer.from(bytes(true)).equals(Buffer.from(bytes(false))) ? [true] : [true, false];
}

/** max |ort − ref| / (1 + |ref|) over the elements; throws naming the case, output and worst element. */
function compare(what: string, name: string, got: HostTensor, want: HostTensor): void {
  assert.deepEqual(
    got.shape,
    want.shape,
    `${what}: output '${name}' has shape [${got.shape}] from onnxruntime, [${want.shape}] from the reference`,
  );
  assert.equal(got.dtype, want.dtype, `${what}: output '${name}' dtype`);
  const a = toNumbers(got),
    b = toNumbers(want);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!));
    if (!(err <= worstErr)) [worst, worstErr] = [i, err]; // NaN counts as worst
  }
  if (worst >= 0 && !(worstErr <= TOL)) {
    assert.fail(
      `${what}: output '${name}' differs at index [${unravel(worst, want.shape)}] (flat ${worst}): ` +
        `onnxruntime ${a[worst]} vs reference ${b[worst]} (error ${worstErr.toExponential(2)} > ${TOL}·(1+|ref|))`,
    );
  }
}

async function check(what: string, { outputs, feeds }: Built): Promise<void> {
  const want = await (await reference.compile(outputs)).run(feeds);
  for (const contribOps of contribModes(outputs)) {
    const got = await (await ort.compile(outputs, { contribOps, threads: 1 })).run(feeds);
    for (const name of Object.keys(outputs))
      compare(`${what} (contribOps: ${contribOps})`, name, got[name]!, want[name]!);
  }
}

opCases.forEach((c, k) => {
  test(`${c.op}: ${c.name}`, async () => {
    const { forward, backward } = buildCase(c, 1000 + k);
    await check(`op '${c.op}', case '${c.name}', forward`, forward);
    if (backward) await check(`op '${c.op}', case '${c.name}', gradient`, backward);
  });
});

test('both contrib-op modes are exercised: matmul with transposes and rmsNorm lower differently without them', () => {
  const lowersBothWays = (c: OpCase) => contribModes(buildCase(c, 0).forward.outputs).length === 2;
  const differing = opCases.filter(lowersBothWays).map((c) => c.op);
  assert.ok(
    differing.includes('matmul') && differing.includes('rmsNorm'),
    `cases whose lowering depends on contribOps: ${differing.join(', ')}`,
  );
});
