// Latency and throughput of an inference program: a few untimed warmup runs (session setup, arena
// growth, caches), then timed runs. Latency is per run at batch 1; throughput is items per second
// at a larger batch, items being tokens (LM) or examples (classifier).
import type { HostTensor } from '../runtime/index.ts';
import { percentile } from './metrics.ts';
import type { InferenceProgram } from './programs.ts';

export interface TimingOptions {
  warmup: number;
  runs: number;
}

export interface Timing {
  p50: number;
  p95: number;
  mean: number;
  runs: number;
  /** Wall time of all timed runs, ms. */
  totalMs: number;
}

export async function timeRuns(
  program: InferenceProgram,
  feeds: Record<string, HostTensor>,
  o: TimingOptions,
): Promise<Timing> {
  if (!(Number.isInteger(o.runs) && o.runs >= 1))
    throw new RangeError(`evaluate: speed.runs must be a positive integer, got ${o.runs}`);
  for (let i = 0; i < o.warmup; i++) await program.logits(feeds);
  const ms: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const t0 = performance.now();
    await program.logits(feeds);
    ms.push(performance.now() - t0);
  }
  const totalMs = ms.reduce((a, b) => a + b, 0);
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), mean: totalMs / ms.length, runs: ms.length, totalMs };
}

type Typed = { length: number; subarray(begin: number, end: number): Typed; set(src: Typed, offset: number): void };

/** The first `rows` rows of a batch tensor, repeating rows when it has fewer. */
export function takeRows(t: HostTensor, rows: number): HostTensor {
  const have = t.shape[0]!;
  const src = t.data as unknown as Typed;
  const per = src.length / have;
  const out = new (t.data.constructor as new (n: number) => Typed)(rows * per);
  for (let r = 0; r < rows; r++) out.set(src.subarray((r % have) * per, ((r % have) + 1) * per), r * per);
  return { dtype: t.dtype, shape: [rows, ...t.shape.slice(1)], data: out as unknown as HostTensor['data'] };
}
