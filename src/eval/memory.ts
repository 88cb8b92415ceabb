// Peak resident memory of inference, measured in a child process (memory-child.mjs) that loads only
// onnxruntime and the ONNX file: the parent's heap (the trainer, the other models, the test runner)
// never counts.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MEMORY_CHILD = fileURLToPath(new URL('./memory-child.mjs', import.meta.url));

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
  const args = [
    MEMORY_CHILD,
    file,
    JSON.stringify({
      dims: o.dims,
      vocab: o.vocab,
      runs: o.runs ?? 3,
      timedRuns: o.timedRuns ?? 0,
      threads: o.threads ?? 1,
    }),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '',
      err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(
          new Error(
            `peak memory of ${file}: the measuring process ${signal ? `was killed (${signal})` : `exited with ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ') || '(no output)'}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(line) as MemoryFigures);
      } catch {
        reject(new Error(`peak memory of ${file}: the measuring process printed ${JSON.stringify(line)}, not JSON`));
      }
    });
  });
}
