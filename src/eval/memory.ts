// Peak resident memory of inference, measured in a child process (memory-child.mjs) that loads only
// onnxruntime and the ONNX file: the parent's heap (the trainer, the other models, the test runner)
// never counts.
import { fileURLToPath } from 'node:url';
import { runJsonChild } from './child.ts';

export const MEMORY_CHILD = fileURLToPath(new URL('./memory-child.mjs', import.meta.url));

/** Sizes of an exported file's symbolic dims for one row of `seq` tokens and no cache. */
export const fileDims = (seq: number) => ({
  batch_size: 1,
  sequence_length: seq,
  past_sequence_length: 0,
  total_sequence_length: seq,
});

export interface MemoryOptions {
  /** Sizes of the file's symbolic dims, e.g. {batch_size: 1, sequence_length: 64, past_sequence_length: 0}. */
  dims: Record<string, number>;
  /** Token ids fed are below this. */
  vocab: number;
  runs?: number;
  /** Runs timed after the memory runs (latency of the file in plain onnxruntime); default none. */
  timedRuns?: number;
  threads?: number;
  timeoutMs?: number;
}

export interface MemoryFigures {
  peakBytes: number;
  baselineBytes: number;
  rssBytes: number;
  /** Per run at the given dims, when timedRuns was asked for. */
  latencyMs?: { p50: number; p95: number; runs: number };
}

export function measurePeakMemory(file: string, o: MemoryOptions): Promise<MemoryFigures> {
  const settings = {
    dims: o.dims,
    vocab: o.vocab,
    runs: o.runs ?? 3,
    timedRuns: o.timedRuns ?? 0,
    threads: o.threads ?? 1,
  };
  return runJsonChild<MemoryFigures>(MEMORY_CHILD, [file, JSON.stringify(settings)], {
    what: `peak memory of ${file}`,
    timeoutMs: o.timeoutMs,
  });
}
