// Where a program's time goes: onnxruntime's profile (OrtExecutor's `profile` option writes one
// Chrome-trace JSON per session) summed by operator type and by node, over the runs after the
// warm-up ones.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface TraceEvent {
  cat: string;
  name: string;
  ts: number; // µs
  dur: number; // µs
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

export interface OpShare {
  op: string;
  /** Kernel time per run, ms. */
  ms: number;
  /** Share of all kernel time. */
  share: number;
  /** Node runs per run (a Loop body's nodes run once per iteration). */
  calls: number;
}

export interface NodeShare extends OpShare {
  node: string;
  /** The node's first output's shape. */
  shape: number[];
}

export interface ProfileSummary {
  /** Runs summed (those after the skipped warm-up runs). */
  runs: number;
  /** Wall time of a run as onnxruntime measured it (model_run), ms. */
  runMs: number;
  /** Sum of node kernel times per run, ms, control-flow nodes (Loop, If, Scan) left out: their bodies' nodes are counted. */
  kernelMs: number;
  /** Time inside control-flow nodes per run, ms (their bodies' kernels included). */
  controlFlowMs: number;
  ops: OpShare[];
  nodes: NodeShare[];
}

/** Control-flow nodes: their time is the time of their bodies' nodes, which are reported themselves. */
const CONTROL_FLOW = new Set(['Loop', 'If', 'Scan']);

/** The profile files a session with `profile` prefix wrote (`{prefix}_{date}_{time}.json`). */
export function profileFiles(prefix: string): string[] {
  const dir = dirname(prefix),
    base = basename(prefix);
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'))
    .map((f) => join(dir, f));
}

/** Sums one profile's node events by op type and by node over its runs after the first `skipRuns`. */
export function summarizeProfile(file: string, o: { skipRuns?: number } = {}): ProfileSummary {
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const kept = runs.slice(o.skipRuns ?? 1);
  if (kept.length === 0)
    throw new Error(`${file}: ${runs.length} runs profiled, none after the ${o.skipRuns ?? 1} warm-up runs skipped`);
  const inKept = (e: TraceEvent) => kept.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const byOp = new Map<string, { us: number; calls: number }>();
  const byNode = new Map<string, { op: string; us: number; calls: number; shape: number[] }>();
  let kernelUs = 0,
    controlUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inKept(e)) continue;
    const op = e.args?.op_name ?? '?';
    if (CONTROL_FLOW.has(op)) {
      controlUs += e.dur;
      continue;
    }
    kernelUs += e.dur;
    const a = byOp.get(op) ?? { us: 0, calls: 0 };
    a.us += e.dur;
    a.calls++;
    byOp.set(op, a);
    const node = e.name.slice(0, -'_kernel_time'.length);
    const n = byNode.get(node) ?? {
      op,
      us: 0,
      calls: 0,
      shape: Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? [],
    };
    n.us += e.dur;
    n.calls++;
    byNode.set(node, n);
  }
  const per = (us: number) => us / 1000 / kept.length;
  const ops = [...byOp]
    .map(([op, v]) => ({ op, ms: per(v.us), share: v.us / kernelUs, calls: v.calls / kept.length }))
    .sort((a, b) => b.ms - a.ms);
  const nodes = [...byNode]
    .map(([node, v]) => ({
      node,
      op: v.op,
      shape: v.shape,
      ms: per(v.us),
      share: v.us / kernelUs,
      calls: v.calls / kept.length,
    }))
    .sort((a, b) => b.ms - a.ms);
  return {
    runs: kept.length,
    runMs: per(kept.reduce((s, r) => s + r.dur, 0)),
    kernelMs: per(kernelUs),
    controlFlowMs: per(controlUs),
    ops,
    nodes,
  };
}

/** GEMM-family op types, whose time the matmul floor bounds. */
export const GEMM_OPS = new Set(['MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm', 'MatMulNBits']);

/** Lines for a report: the top ops and nodes by kernel time, and the GEMMs' share and rate. */
export function describeProfile(p: ProfileSummary, top: number, gflop?: number): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const gemmMs = p.ops.filter((o) => GEMM_OPS.has(o.op)).reduce((s, o) => s + o.ms, 0);
  const lines = [
    `profile (${p.runs} runs after warm-up): ${p.runMs.toFixed(0)} ms/run, of which ${p.kernelMs.toFixed(0)} ms in node kernels` +
      (p.controlFlowMs > 0
        ? ` (${p.controlFlowMs.toFixed(0)} ms inside Loop nodes, their bodies' kernels counted by op below)`
        : ''),
    `  GEMMs (${[...GEMM_OPS].filter((op) => p.ops.some((o) => o.op === op)).join(', ')}): ${gemmMs.toFixed(0)} ms/run, ${pct(gemmMs / p.kernelMs)} of kernel time` +
      (gflop ? `, ${(gflop / (gemmMs / 1000)).toFixed(0)} GFLOP/s over the step's ${gflop.toFixed(1)} GFLOP` : ''),
    '  top ops by kernel time (ms/run, share, node runs/run):',
    ...p.ops
      .slice(0, top)
      .map(
        (o) =>
          `    ${o.op.padEnd(24)} ${o.ms.toFixed(1).padStart(9)} ms  ${pct(o.share).padStart(6)}  ${o.calls.toFixed(0)}`,
      ),
    '  top nodes (ms/run, share, op, first output shape):',
    ...p.nodes
      .slice(0, Math.min(top, 10))
      .map(
        (n) =>
          `    ${n.ms.toFixed(1).padStart(9)} ms  ${pct(n.share).padStart(6)}  ${n.op.padEnd(20)} [${n.shape.join(', ')}]${n.calls > 1 ? ` ×${n.calls.toFixed(0)}` : ''}  ${n.node}`,
      ),
  ];
  return lines;
}
