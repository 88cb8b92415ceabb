// The seam between model code and the engines that run it. Two executors implement it:
// onnxruntime (fast) and the reference interpreter (the oracle for tests, and the fallback).
import type { Tensor } from '../graph/index.ts';
import type { IoSpec } from '../onnx/lower.ts';
import type { HostTensor } from './host.ts';
import { randomFeed } from './random.ts';

export interface RunOptions {
  /** Seed and step for `random` leaves; both default to 0. */
  seed?: number;
  step?: number;
  /**
   * Preallocated buffers to write outputs into, by output name (double-buffering state between
   * steps keeps memory flat: no new arrays per step for the garbage collector to chase).
   */
  into?: Record<string, HostTensor>;
}

export interface Program {
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  run(feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>>;
}

export interface CompileOptions {
  name?: string;
  /** Threads for one op (onnxruntime's intra-op pool). */
  threads?: number;
  /**
   * Let idle pool threads spin between ops instead of sleeping (onnxruntime's allow_spinning). Pays
   * for programs of many tiny ops run back to back (a decode step); costs cores others could use.
   * Default off, or RETORT_ORT_SPIN=1.
   */
  spin?: boolean;
}

export interface Executor {
  readonly name: string;
  compile(outputs: Record<string, Tensor>, opts?: CompileOptions): Promise<Program>;
}

/** Checks that feeds match the program's inputs (by name, dtype and shape) and adds random ones. */
export function completeFeeds(
  inputs: readonly IoSpec[],
  feeds: Record<string, HostTensor>,
  opts: RunOptions = {},
): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const spec of inputs) {
    if (spec.kind === 'random' && !(spec.name in feeds)) {
      out[spec.name] = randomFeed(spec, opts.seed ?? 0, opts.step ?? 0);
      continue;
    }
    const f = feeds[spec.name];
    if (!f) {
      const needed = inputs.filter((s) => s.kind !== 'random').map((s) => s.name);
      throw new Error(`input '${spec.name}' is missing in feeds; the graph needs: ${needed.join(', ')}`);
    }
    if (f.dtype !== spec.dtype || f.shape.length !== spec.shape.length || f.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(
        `input '${spec.name}' should be ${spec.dtype}[${spec.shape.join(', ')}] but was fed ${f.dtype}[${f.shape.join(', ')}]`,
      );
    }
    out[spec.name] = f;
  }
  return out;
}
