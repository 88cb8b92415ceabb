// A GGUF file scored in llama.cpp (node-llama-cpp) on the evaluation's own batches: perplexity,
// batch-1 latency and the process's peak memory, measured by gguf-child.mjs in a process of its own.
import { fileURLToPath } from 'node:url';
import type { Batch } from '../distill/trainer/index.ts';
import { runJsonChild } from './child.ts';

const GGUF_CHILD = fileURLToPath(new URL('./gguf-child.mjs', import.meta.url));

export type GgufScore =
  | { perplexity: number | null; scored: number; peakBytes: number; latencyMs?: number }
  | { missing: string };

export interface GgufScoreOptions {
  batches: readonly Batch[];
  seq: number;
  /** Timed batch-1 forwards (0: none). */
  runs: number;
  threads: number;
  timeoutMs?: number;
}

/** Rows of (ids, labels) out of LM batches, as the child reads them from stdin. */
function rowsOf(batches: readonly Batch[]): { ids: number[]; labels: number[] }[] {
  const rows: { ids: number[]; labels: number[] }[] = [];
  for (const b of batches) {
    const [n, t] = b.input_ids!.shape as [number, number];
    const ids = b.input_ids!.data as BigInt64Array;
    const labels = b.labels!.data as BigInt64Array;
    for (let r = 0; r < n; r++)
      rows.push({
        ids: Array.from(ids.subarray(r * t, (r + 1) * t), Number),
        labels: Array.from(labels.subarray(r * t, (r + 1) * t), Number),
      });
  }
  return rows;
}

export function scoreGgufFile(path: string, o: GgufScoreOptions): Promise<GgufScore> {
  return runJsonChild<GgufScore>(GGUF_CHILD, [path, JSON.stringify({ seq: o.seq, runs: o.runs, threads: o.threads })], {
    input: JSON.stringify({ rows: rowsOf(o.batches) }),
    what: `scoring ${path} in llama.cpp`,
    timeoutMs: o.timeoutMs ?? 600_000,
  });
}
