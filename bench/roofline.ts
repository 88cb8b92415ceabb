// What the machine allows: a step's matrix-multiply work counted from its traced graph, and this
// machine's best fp32 GEMM rate measured with onnxruntime on the same thread count. Work ÷ rate
// is a floor no engine doing the same arithmetic in fp32 can beat here, so a peer's time ÷ floor
// is the most any engine could gain over it on this machine.
import * as ort from 'onnxruntime-node';
import { topoSort, type Tensor } from '../src/graph/index.ts';
import { encodeModel } from '../src/onnx/index.ts';
import type { OnnxModel, OnnxNode } from '../src/onnx/model.ts';

/** Floating-point operations of every matmul the outputs depend on (2·M·N·K per matrix product). */
export function matmulFlops(outputs: readonly Tensor[]): number {
  let flops = 0;
  for (const t of topoSort(outputs)) {
    if (t.def?.name !== 'matmul') continue;
    const a = t.inputs[0]!,
      { transA } = t.attrs as { transA: boolean };
    const k = transA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!;
    flops += 2 * t.size * k;
  }
  return flops;
}

const vi = (name: string, shape: number[]) => ({ name, elemType: 1 as const, shape });

async function timeModel(
  nodes: OnnxNode[],
  inputs: Record<string, number[]>,
  output: [string, number[]],
  threads: number,
  reps: number,
): Promise<number> {
  const model: OnnxModel = {
    irVersion: 9,
    opsetImports: [{ domain: '', version: 20 }],
    graph: {
      name: 'roofline',
      nodes,
      initializers: [],
      inputs: Object.entries(inputs).map(([k, s]) => vi(k, s)),
      outputs: [vi(...output)],
    },
  };
  const session = await ort.InferenceSession.create(encodeModel(model), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, s] of Object.entries(inputs))
    feeds[k] = new ort.Tensor('float32', new Float32Array(s.reduce((x, y) => x * y)).fill(0.5), s);
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  await session.release();
  return Math.min(...times);
}

/** The best fp32 GEMM rate (FLOP/s) onnxruntime reaches on square 1024 and 2048 products. */
export async function peakGemmFlops(threads: number): Promise<number> {
  let best = 0;
  for (const n of [1024, 2048]) {
    const s = await timeModel(
      [{ opType: 'MatMul', inputs: ['A', 'B'], outputs: ['Y'], attributes: [] }],
      { A: [n, n], B: [n, n] },
      ['Y', [n, n]],
      threads,
      n === 1024 ? 12 : 4,
    );
    best = Math.max(best, (2 * n ** 3) / s);
  }
  return best;
}

/**
 * The best GEMM rate seen over several samples: the machine's speed drifts, and a floor must use
 * the fastest the hardware showed, so benchmarks sample once per round.
 */
export class GemmPeak {
  best = 0;
  constructor(readonly threads: number) {}
  async sample(): Promise<void> {
    this.best = Math.max(this.best, await peakGemmFlops(this.threads));
  }
}

export interface Floor {
  gflop: number;
  peakGflops: number;
  floorS: number;
}

export function gemmFloor(outputs: readonly Tensor[], peak: GemmPeak): Floor {
  const flops = matmulFlops(outputs);
  return { gflop: flops / 1e9, peakGflops: peak.best / 1e9, floorS: flops / peak.best };
}

export const describeFloor = (f: Floor, peerS?: number): string =>
  `floor: ${f.gflop.toFixed(1)} GFLOP of matmuls per step at this machine's best fp32 GEMM rate ${f.peakGflops.toFixed(0)} GFLOP/s = ${f.floorS.toFixed(3)} s/step` +
  (peerS === undefined
    ? ''
    : `; PyTorch's step ÷ floor = ${(peerS / f.floorS).toFixed(2)}x, the most any fp32 engine could gain over it here`);
